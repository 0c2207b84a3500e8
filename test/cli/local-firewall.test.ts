/** preflight's reading of the local firewall, from the tools' own text. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firewallFindings } from '../../src/cli/preflight/local-firewall.js';

const HELD = [6443, 2379, 10250];

test('nftables: a drop policy accepting some ports, and an explicit drop elsewhere', () => {
  const nft = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		tcp dport { 6443, 10250 } accept
	}
}
table inet other {
	chain input {
		type filter hook input priority filter; policy accept;
		ip daddr 198.18.0.1 tcp dport 10250 tcp flags & (syn | ack) == syn drop
	}
	chain helper {
		tcp dport 6443 drop
	}
}
`;
  assert.deepEqual(firewallFindings({ nft }, HELD), [
    {
      tool: 'nftables',
      ports: [2379],
      finding: 'chain inet filter input drops by policy and accepts none of 2379',
    },
    { tool: 'nftables', ports: [10250], finding: 'chain inet other input drops or rejects 10250' },
  ]);
});

test('iptables: a REJECT at the end of INPUT drops what no rule accepted', () => {
  const iptables = [
    '-P INPUT ACCEPT',
    '-A INPUT -p tcp -m tcp --dport 6443 -j ACCEPT',
    '-A INPUT -s 198.18.0.0/24 -p tcp -m tcp --dport 2379 -j ACCEPT',
    '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
  ].join('\n');
  assert.deepEqual(firewallFindings({ iptables }, HELD), [
    { tool: 'iptables', ports: [2379, 10250], finding: 'INPUT drops or rejects 2379, 10250' },
  ]);
});

test('firewalld: active, and the ports it does not list', () => {
  const findings = firewallFindings({ firewalld: { ports: ['6443/tcp', '2379-2380/tcp'] } }, HELD);
  assert.deepEqual(
    findings.map((f) => f.ports),
    [[10250]],
  );
  assert.match(findings[0]?.finding ?? '', /^is active and does not list 10250 /);
});

test('nothing read: nothing found', () => {
  assert.deepEqual(firewallFindings({}, HELD), []);
});
