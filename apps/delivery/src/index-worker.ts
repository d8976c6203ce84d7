/**
 * The thread side of the index pool (index-pool.ts): indexes the messages it is sent, one at a
 * time. The message's memory arrives transferred (or shared) and goes back the same way with
 * the index (structured clone): nothing of the message is copied.
 */
import { parentPort } from 'node:worker_threads';
import { indexMessage } from '@postern/mime';

interface Job {
  id: number;
  memory: ArrayBuffer | SharedArrayBuffer;
  length: number;
}

const port = parentPort;
if (port === null) throw new Error('index-worker runs as a worker thread');
port.on('message', (job: Job) => {
  const index = indexMessage(Buffer.from(job.memory, 0, job.length));
  port.postMessage({ id: job.id, index, memory: job.memory }, job.memory instanceof ArrayBuffer ? [job.memory] : []);
});
