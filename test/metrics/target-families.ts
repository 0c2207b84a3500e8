/** The four per-target families of a table in one go, as the render thread writes them. */
import {
  type LabelColumns,
  type TargetValues,
  targetFamiliesBound,
  writeTargetFamilies,
} from '../../src/metrics/target-families.js';

export function renderTargetFamilies(t: LabelColumns & TargetValues): Buffer {
  const out = Buffer.alloc(targetFamiliesBound(t, t));
  return out.subarray(0, writeTargetFamilies(out, t, t));
}
