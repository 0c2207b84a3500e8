import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  labelSelectorProblem,
  parseLabelSelector,
  selectorMatches,
} from '../../../src/discovery/kubernetes/selector.js';

const labels = {
  app: 'iserver',
  tier: 'gis',
  'app.kubernetes.io/part-of': 'imanager',
  'node-role.kubernetes.io/control-plane': '',
};

describe('label selectors', () => {
  const cases: [selector: string, matches: boolean][] = [
    ['', true],
    ['app', true],
    ['missing', false],
    ['!missing', true],
    ['!app', false],
    ['app=iserver', true],
    ['app==iserver', true],
    ['app = iserver', true],
    ['app=portal', false],
    ['app!=portal', true],
    ['app!=iserver', false],
    ['missing!=x', true],
    ['missing=', false],
    ['node-role.kubernetes.io/control-plane', true],
    ['node-role.kubernetes.io/control-plane=', true],
    ['app.kubernetes.io/part-of=imanager', true],
    ['tier in (gis,db)', true],
    ['tier in (db, web)', false],
    ['missing in (a)', false],
    ['tier notin (db)', true],
    ['tier notin (gis,db)', false],
    ['missing notin (a)', true],
    ['app=iserver,tier in (gis),!missing', true],
    ['app=iserver, tier=db', false],
  ];
  for (const [selector, expected] of cases) {
    it(`"${selector}" ${expected ? 'matches' : 'does not match'}`, () => {
      assert.equal(selectorMatches(parseLabelSelector(selector), labels), expected);
    });
  }

  it('treats missing labels as an empty set', () => {
    assert.equal(selectorMatches(parseLabelSelector('!app'), undefined), true);
    assert.equal(selectorMatches(parseLabelSelector('app'), undefined), false);
  });

  const bad: [selector: string, message: string][] = [
    [
      'app=',
      // an empty value is valid; this case is here to pin that down
      '',
    ],
    [
      'app in gis',
      'label selector "app in gis": cannot parse "app in gis" (expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))',
    ],
    [
      'a=b=c',
      'label selector "a=b=c": cannot parse "a=b=c" (expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))',
    ],
    ['tier in (gis,-bad)', 'label selector "tier in (gis,-bad)": "-bad" is not a label value'],
    [
      'app,,tier',
      'label selector "app,,tier": cannot parse "" (expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))',
    ],
  ];
  for (const [selector, message] of bad) {
    it(`"${selector}" ${message ? 'is rejected with its reason' : 'is accepted'}`, () => {
      assert.equal(labelSelectorProblem(selector) ?? '', message);
    });
  }
});
