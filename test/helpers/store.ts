/**
 * A result store wired as the exporter wires it: the exposition's label encoding from
 * metrics/, so tests read the same label bytes a scrape serves.
 */
import { EXPOSITION_LABELS } from '../../src/metrics/labels.js';
import { ResultStore } from '../../src/results/store.js';

export function newStore(): ResultStore {
  return new ResultStore({ labels: EXPOSITION_LABELS });
}
