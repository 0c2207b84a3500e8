/**
 * The output formats of the one-shot commands. A leaf module: the flag table reads
 * these lists, and the commands switch on them.
 */

/** How check, preflight and catalog print: an aligned table, JSON for scripts, or Markdown. */
export const OUTPUT_FORMATS = ['table', 'json', 'markdown'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The firewalls whose commands `firewall` writes. */
export const FIREWALL_FORMATS = ['firewalld', 'iptables', 'nftables', 'ufw'] as const;
export type FirewallFormat = (typeof FIREWALL_FORMATS)[number];
