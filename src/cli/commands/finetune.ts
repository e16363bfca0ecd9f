// edgefit finetune MODEL -o OUT --data TRAIN [--teacher REF] [--loss ce|kd|ce+kd] [--epochs N | --steps N]
//   [--lr X] [--batch-size B] [--val D] [--optimizer sgd|adamw] [--seed N]
import { finetune, finetuneOptions, type TransformReport, textTable } from '../../node.js';
import { modelCommand } from '../define.js';
import { fmtPct } from '../format.js';
import { renderTransform } from '../render-transform.js';

interface Point {
  step: number;
  loss: number;
  accuracy?: number;
  trainAccuracy?: number;
}

function renderFinetune(r: TransformReport): string {
  const t = r.training as Record<string, number | string>;
  const curve = (r.curve as Point[]) ?? [];
  const every = Math.max(1, Math.ceil(curve.length / 12));
  const rows = curve
    .filter((p, i) => i % every === 0 || i === curve.length - 1 || p.accuracy !== undefined)
    .map((p) => [
      p.step,
      Number.isFinite(p.loss) ? p.loss.toFixed(4) : '-',
      fmtPct(p.trainAccuracy),
      fmtPct(p.accuracy),
    ]);
  const acc = r.accuracy as { before: number; after: number; dropPt: number } | undefined;
  const lines = [
    `  trained ${t.trainedTensors} tensors (${t.trainedParams} params, ${t.maskedTensors} with masks kept): ${t.steps} steps of ${t.batchSize} (${t.epochs} epoch${t.epochs === 1 ? '' : 's'}), ${t.loss} loss, ${t.optimizer} lr ${t.lr} ${t.schedule}, ${t.stepMs} ms/step, ${t.seconds} s`,
  ];
  if (acc)
    lines.push(
      `  validation top-1 ${fmtPct(acc.before)} -> ${fmtPct(acc.after)} (${acc.dropPt > 0 ? '-' : '+'}${Math.abs(acc.dropPt).toFixed(2)} pt)`,
    );
  return renderTransform(
    r,
    `${lines.join('\n')}\n${textTable(['step', 'loss', 'train top-1', 'val top-1'], rows)}\n`,
  );
}

export const finetuneCommand = modelCommand('finetune', finetuneOptions, finetune, renderFinetune);
