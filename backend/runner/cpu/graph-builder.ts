/**
 * Builds an ONNX graph op by op, naming intermediate values automatically. Weights become
 * initializers whose bytes live outside the protobuf (ORT's in-memory external data), so the
 * model stays far below protobuf's 2 GB limit and no weight is copied into it.
 */
import {
  type AttributeValue,
  type Dim,
  TensorDataType as DT,
  encodeModel,
  type NodeProto,
  type TensorDataType,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto.ts';

/** Initializers at least this big travel as external data; smaller ones are inlined. */
const EXTERNAL_MIN_BYTES = 4096;

export interface ExternalDataFile {
  path: string;
  data: Uint8Array;
}

export interface BuiltModel {
  modelBytes: Uint8Array;
  externalData: ExternalDataFile[];
}

export type TypedData = Float32Array | Int32Array | Uint8Array | Int8Array | BigInt64Array;

function dataTypeOf(data: TypedData): TensorDataType {
  if (data instanceof Float32Array) return DT.FLOAT;
  if (data instanceof Int32Array) return DT.INT32;
  if (data instanceof BigInt64Array) return DT.INT64;
  if (data instanceof Int8Array) return DT.INT8;
  return DT.UINT8;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly externalData: ExternalDataFile[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;

  input(name: string, dataType: TensorDataType, dims: Dim[]): string {
    this.inputs.push({ name, dataType, dims });
    return name;
  }

  /** Declares a graph output; a value not already named `name` gets an Identity to rename it. */
  output(value: string, name: string, dataType: TensorDataType, dims: Dim[]): void {
    if (value !== name) this.op('Identity', [value], {}, { outputs: [name] });
    this.outputs.push({ name, dataType, dims });
  }

  initializer(name: string, data: TypedData, dims: number[]): string {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const tensor: TensorProto = { name, dataType: dataTypeOf(data), dims };
    if (bytes.byteLength >= EXTERNAL_MIN_BYTES) {
      const location = `w${this.externalData.length}.bin`;
      this.externalData.push({ path: location, data: bytes });
      tensor.external = { location, offset: 0, length: bytes.byteLength };
    } else {
      tensor.rawData = bytes.slice();
    }
    this.initializers.push(tensor);
    return name;
  }

  /** An int64 constant, shared between uses (shapes, axes, indices). */
  int64s(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.initializer(
        `const_${this.constants.size}`,
        BigInt64Array.from(values.map(BigInt)),
        [values.length],
      );
      this.constants.set(key, name);
    }
    return name;
  }

  /** A scalar float32 constant. */
  scalar(value: number): string {
    const key = `f32:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.initializer(`const_${this.constants.size}`, Float32Array.of(value), []);
      this.constants.set(key, name);
    }
    return name;
  }

  /** Adds a node; returns its first output (or all outputs when `count` > 1 via opMulti). */
  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    options: { domain?: string; outputs?: string[] } = {},
  ): string {
    return this.opMulti(opType, inputs, attributes, { ...options, count: 1 })[0];
  }

  opMulti(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue>,
    options: { domain?: string; outputs?: string[]; count: number },
  ): string[] {
    const id = this.counter++;
    const outputs =
      options.outputs ?? Array.from({ length: options.count }, (_, i) => `${opType}_${id}_${i}`);
    this.nodes.push({
      opType,
      inputs,
      outputs,
      name: `${opType}_${id}`,
      domain: options.domain,
      attributes,
    });
    return outputs;
  }

  build(): BuiltModel {
    const modelBytes = encodeModel({
      irVersion: 10,
      producerName: 'edgeserve',
      opsets: [
        { domain: '', version: 23 },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: {
        name: 'decoder',
        nodes: this.nodes,
        initializers: this.initializers,
        inputs: this.inputs,
        outputs: this.outputs,
      },
    });
    return { modelBytes, externalData: this.externalData };
  }
}
