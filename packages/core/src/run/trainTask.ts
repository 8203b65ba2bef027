/**
 * Trains any TrainTask the way a d2v run does: the Trainer, with `train.workers` gradient worker
 * threads when the task says how a thread rebuilds it (a TaskFactory). `pretrain`, `finetune`
 * and custom tasks such as the text MLM control all train through here.
 */
import type { TrainTask } from '../train/task.js';
import { Trainer, type TrainerOptions, type TrainResult } from '../train/trainer.js';
import { GradientWorkers, type TaskFactory } from '../train/parallel.js';
import { ConfigError } from '../errors.js';

export interface TrainTaskOptions extends Omit<TrainerOptions, 'workers'> {
  /** How a worker thread builds its replica of the task; needed when config.train.workers > 0. */
  replica?: TaskFactory;
}

export async function trainTask(task: TrainTask<any>, o: TrainTaskOptions): Promise<TrainResult> {
  const { config } = o;
  const log = o.log ?? ((m: string) => console.error(m));
  const count = config.train.workers;
  let workers: GradientWorkers | undefined;
  if (count > 0) {
    if (!o.replica) throw new ConfigError(`train.workers is ${count}, but this task gives worker threads no way to rebuild it (a replica factory); set train.workers 0`, 'train.workers');
    if (config.optim.accumulate < 2) log('d2v: train.workers > 0 with optim.accumulate 1 leaves the workers idle; set optim.accumulate >= 2');
    workers = new GradientWorkers(o.replica, config, task, count);
    try {
      await workers.ready();
    } catch (err) {
      await workers.dispose();
      throw err;
    }
    log(`d2v: ${count} gradient worker thread(s); ${config.optim.accumulate} micro-batches of ${config.train.batchSize} per update`);
  }
  try {
    return await new Trainer(task, { ...o, log, workers }).run();
  } finally {
    await workers?.dispose();
  }
}
