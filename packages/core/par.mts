import { initBackend, pretrain } from './src/index.ts';
await initBackend('wasm');
const r = await pretrain({ modality: './test/fixtures/toy-modality.ts', log: (m) => console.error(m), plots: false, progressStream: { write: () => true, isTTY: false } as never, overrides: { 'train.steps': 3, 'optim.accumulate': 2, 'train.batchSize': 8, out: '/tmp/par1', 'train.workers': 1 } });
console.log(r.losses);
process.exit(0);
