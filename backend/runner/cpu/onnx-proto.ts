/**
 * ONNX messages as plain objects, and their protobuf encoding (field numbers from onnx.proto).
 * Only what our decoder graphs need: tensors (raw or external data), attributes, nodes,
 * value infos with symbolic dims, graphs and the model with its opset imports.
 */
import { ProtoWriter } from './protobuf-writer.ts';

export const TensorDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
} as const;
export type TensorDataType = (typeof TensorDataType)[keyof typeof TensorDataType];

export interface TensorProto {
  name: string;
  dataType: TensorDataType;
  dims: number[];
  /** Inline little-endian bytes (small constants). */
  rawData?: Uint8Array;
  /** Bytes held outside the model (in-memory external data): file name, offset, length. */
  external?: { location: string; offset: number; length: number };
}

/** A plain number is an int attribute; `{ f }` is a float one (so 1.0 stays a float). */
export type AttributeValue = number | { f: number } | string | number[] | TensorProto;

export interface NodeProto {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

/** A dim is a fixed size or a symbolic name. */
export type Dim = number | string;

export interface ValueInfoProto {
  name: string;
  dataType: TensorDataType;
  dims: Dim[];
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  graph: GraphProto;
}

const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_TENSOR = 4;
const ATTR_INTS = 7;
const DATA_LOCATION_EXTERNAL = 1;

export function encodeTensor(tensor: TensorProto): Uint8Array {
  const w = new ProtoWriter();
  for (const dim of tensor.dims) w.varint(1, dim);
  w.varint(2, tensor.dataType);
  w.string(8, tensor.name);
  if (tensor.rawData) w.bytes(9, tensor.rawData);
  if (tensor.external) {
    const { location, offset, length } = tensor.external;
    for (const [key, value] of [
      ['location', location],
      ['offset', String(offset)],
      ['length', String(length)],
    ]) {
      w.message(13, new ProtoWriter().string(1, key).string(2, value).finish());
    }
    w.varint(14, DATA_LOCATION_EXTERNAL);
  }
  return w.finish();
}

function encodeAttribute(name: string, value: AttributeValue): Uint8Array {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === 'number') {
    w.varint(3, value).varint(20, ATTR_INT);
  } else if (typeof value === 'string') {
    w.string(4, value).varint(20, ATTR_STRING);
  } else if (Array.isArray(value)) {
    for (const v of value) w.varint(8, v);
    w.varint(20, ATTR_INTS);
  } else if ('f' in value) {
    w.float(2, value.f).varint(20, ATTR_FLOAT);
  } else {
    w.message(5, encodeTensor(value)).varint(20, ATTR_TENSOR);
  }
  return w.finish();
}

function encodeNode(node: NodeProto): Uint8Array {
  const w = new ProtoWriter();
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  if (node.name) w.string(3, node.name);
  w.string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(5, encodeAttribute(name, value));
  }
  if (node.domain) w.string(7, node.domain);
  return w.finish();
}

function encodeValueInfo(info: ValueInfoProto): Uint8Array {
  const shape = new ProtoWriter();
  for (const dim of info.dims) {
    const d = new ProtoWriter();
    if (typeof dim === 'number') d.varint(1, dim);
    else d.string(2, dim);
    shape.message(1, d.finish());
  }
  const tensorType = new ProtoWriter().varint(1, info.dataType).message(2, shape.finish());
  const type = new ProtoWriter().message(1, tensorType.finish());
  return new ProtoWriter().string(1, info.name).message(2, type.finish()).finish();
}

function encodeGraph(graph: GraphProto): Uint8Array {
  const w = new ProtoWriter();
  for (const node of graph.nodes) w.message(1, encodeNode(node));
  w.string(2, graph.name);
  for (const init of graph.initializers) w.message(5, encodeTensor(init));
  for (const input of graph.inputs) w.message(11, encodeValueInfo(input));
  for (const output of graph.outputs) w.message(12, encodeValueInfo(output));
  return w.finish();
}

export function encodeModel(model: ModelProto): Uint8Array {
  const w = new ProtoWriter().varint(1, model.irVersion).string(2, model.producerName);
  w.message(7, encodeGraph(model.graph));
  for (const opset of model.opsets) {
    w.message(8, new ProtoWriter().string(1, opset.domain).varint(2, opset.version).finish());
  }
  return w.finish();
}
