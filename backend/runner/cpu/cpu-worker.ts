/**
 * Worker-thread entry of the CPU runner: owns the ONNX Runtime session, the KV pool and sampling,
 * so a forward pass (which blocks its thread) never stalls the HTTP event loop.
 */
import { parentPort } from 'node:worker_threads';
import { loadWeights, type WeightSet } from '../../model/loader.ts';
import { CpuModel } from './cpu-model.ts';
import { MemoryWeights } from './memory-weights.ts';
import type { FromWorker, InitMessage, ToWorker } from './worker-protocol.ts';

if (!parentPort) throw new Error('cpu-worker.ts must run in a worker thread');
const port = parentPort;
let model: CpuModel | null = null;
let keepLogits = false;
// Steps run one at a time, in arrival order, even though message handlers are async.
let queue: Promise<void> = Promise.resolve();

const send = (message: FromWorker) => port.postMessage(message);

async function init(message: InitMessage): Promise<void> {
  let weights: WeightSet;
  if (message.tensors) weights = new MemoryWeights(message.tensors);
  else if (message.modelDir) weights = await loadWeights(message.modelDir, message.spec);
  else throw new Error('the CPU runner needs weights or a modelDir');
  keepLogits = message.keepLogits;
  model = await CpuModel.create({ ...message, weights, numThreads: message.numThreads });
  send({ type: 'ready', kvBytes: model.pool.bytes });
}

async function handle(message: ToWorker): Promise<void> {
  if (message.type === 'init') return init(message);
  if (message.type === 'close') {
    await model?.close();
    model = null;
    send({ type: 'closed' });
    return;
  }
  if (!model) throw new Error('the CPU worker got a batch before it was initialised');
  const { logits, ...output } = await model.execute(message.batch);
  send({
    type: 'result',
    id: message.id,
    output,
    logits: keepLogits ? logits.map((l) => l.slice()) : null,
  });
}

port.on('message', (message: ToWorker) => {
  queue = queue.then(() =>
    handle(message).catch((err: Error) => {
      const id = message.type === 'execute' ? message.id : null;
      send({ type: 'error', id, message: err.message, stack: err.stack });
    }),
  );
});
