/**
 * Does this node's own firewall drop a port preflight holds? kubeadm warns when
 * firewalld is active; preflight reads the rules too: nftables (`nft list ruleset`),
 * iptables (`iptables -S INPUT`) and firewalld (`firewall-cmd --state`, its open ports).
 * Reading is I/O at the edge (readLocalFirewall); judging is pure (firewallFindings),
 * tested from the tools' text.
 */
import { execFile } from 'node:child_process';

export interface FirewallTexts {
  /** `nft list ruleset`; undefined when nft is missing or cannot read (not root). */
  readonly nft?: string;
  /** `iptables -S INPUT`. */
  readonly iptables?: string;
  /** firewalld's state and open ports, when `firewall-cmd --state` says running. */
  readonly firewalld?: { readonly ports: readonly string[] };
}

export interface FirewallFinding {
  readonly tool: 'nftables' | 'iptables' | 'firewalld';
  /** The held ports it drops; empty for a finding about no port in particular. */
  readonly ports: readonly number[];
  readonly finding: string;
}

const TIMEOUT_MS = 3000;

function run(command: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, [...args], { timeout: TIMEOUT_MS }, (error, stdout) =>
      resolve(error ? undefined : stdout),
    );
  });
}

/** Reads what it can; a missing tool or a refusal (not root) leaves its field out. */
export async function readLocalFirewall(): Promise<FirewallTexts> {
  const [nft, iptables, state] = await Promise.all([
    run('nft', ['list', 'ruleset']),
    run('iptables', ['-S', 'INPUT']),
    run('firewall-cmd', ['--state']),
  ]);
  const firewalld =
    state?.trim() === 'running'
      ? {
          ports: ((await run('firewall-cmd', ['--list-ports'])) ?? '').split(/\s+/).filter(Boolean),
        }
      : undefined;
  return {
    ...(nft !== undefined && { nft }),
    ...(iptables !== undefined && { iptables }),
    ...(firewalld && { firewalld }),
  };
}

/** `6443`, `{ 2379, 2380 }`, `30000-32767` after `dport`: the ports a rule names. */
function portsNamed(text: string): ((port: number) => boolean) | undefined {
  const match = /dports? (\{[^}]*\}|[\d:,-]+)/.exec(text);
  if (!match?.[1]) return undefined;
  const parts = match[1]
    .replace(/[{}]/g, '')
    .split(',')
    .map((part) => part.trim());
  const ranges = parts.map((part) => {
    const [min, max] = part.split(/[-:]/).map(Number);
    return { min: min ?? Number.NaN, max: max ?? min ?? Number.NaN };
  });
  return (port) => ranges.some((r) => port >= r.min && port <= r.max);
}

interface NftChain {
  readonly name: string;
  readonly dropsByPolicy: boolean;
  readonly rules: readonly string[];
}

/** The input base chains of `nft list ruleset`, with their policy and rules. */
function nftInputChains(text: string): NftChain[] {
  const chains: NftChain[] = [];
  let table = '';
  let current: { name: string; hook: boolean; drop: boolean; rules: string[] } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const tableMatch = /^table (\S+ \S+) \{$/.exec(line);
    if (tableMatch?.[1]) table = tableMatch[1];
    const chainMatch = /^chain (\S+) \{$/.exec(line);
    if (chainMatch?.[1]) {
      current = { name: `${table} ${chainMatch[1]}`, hook: false, drop: false, rules: [] };
      continue;
    }
    if (!current) continue;
    if (line === '}') {
      if (current.hook) {
        chains.push({ name: current.name, dropsByPolicy: current.drop, rules: current.rules });
      }
      current = undefined;
      continue;
    }
    if (/\bhook input\b/.test(line)) {
      current.hook = true;
      current.drop = /policy drop/.test(line);
    } else if (line !== '') {
      current.rules.push(line);
    }
  }
  return chains;
}

/** What in these rules would keep a peer's connection to a held port from arriving. */
export function firewallFindings(texts: FirewallTexts, held: readonly number[]): FirewallFinding[] {
  const findings: FirewallFinding[] = [];
  if (texts.nft) {
    for (const chain of nftInputChains(texts.nft)) {
      const verdictFor = (port: number) =>
        chain.rules.find((rule) => {
          if (/\b(saddr|iif|iifname)\b/.test(rule)) return false;
          const names = portsNamed(rule);
          return names?.(port) === true && /\b(accept|drop|reject)\b/.test(rule);
        });
      const dropped = held.filter((port) => {
        const rule = verdictFor(port);
        if (rule) return /\b(drop|reject)\b/.test(rule);
        return chain.dropsByPolicy;
      });
      if (dropped.length > 0) {
        const how = chain.dropsByPolicy
          ? 'drops by policy and accepts none of'
          : 'drops or rejects';
        findings.push({
          tool: 'nftables',
          ports: dropped,
          finding: `chain ${chain.name} ${how} ${dropped.join(', ')}`,
        });
      }
    }
  }
  if (texts.iptables) {
    const lines = texts.iptables.split('\n');
    const policyDrop = lines.some((line) => /^-P INPUT (DROP|REJECT)/.test(line));
    const rules = lines.filter((line) => line.startsWith('-A INPUT') && !/ -s | -i /.test(line));
    const dropped = held.filter((port) => {
      const rule = rules.find((line) => portsNamed(line)?.(port) === true);
      if (rule) return /-j (DROP|REJECT)/.test(rule);
      return policyDrop || rules.some((line) => /^-A INPUT -j (DROP|REJECT)/.test(line));
    });
    if (dropped.length > 0) {
      findings.push({
        tool: 'iptables',
        ports: dropped,
        finding: `INPUT drops or rejects ${dropped.join(', ')}`,
      });
    }
  }
  if (texts.firewalld) {
    const open = texts.firewalld.ports;
    const opens = (port: number) =>
      open.some((entry) => {
        const [range, protocol] = entry.split('/');
        const [min, max] = (range ?? '').split('-').map(Number);
        return protocol === 'tcp' && port >= (min ?? 0) && port <= (max ?? min ?? 0);
      });
    const closed = held.filter((port) => !opens(port));
    findings.push({
      tool: 'firewalld',
      ports: closed,
      finding:
        closed.length === 0
          ? 'is active and lists every held port'
          : `is active and does not list ${closed.join(', ')} (its services may; check with firewall-cmd --list-all)`,
    });
  }
  return findings;
}
