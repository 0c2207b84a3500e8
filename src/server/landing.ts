/** What the landing page shows. */
export interface LandingPageInfo {
  readonly version: string;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** The page at `/`: names the exporter and links what a visitor came for. */
export function landingPage(info: LandingPageInfo): string {
  const version = escapeHtml(info.version);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>iManager port exporter</title>
</head>
<body>
<h1>iManager port exporter</h1>
<p>Version ${version}. Probes the TCP ports SuperMap iManager needs on every node, and every NodePort.</p>
<ul>
<li><a href="metrics">Metrics</a></li>
<li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li>
</ul>
</body>
</html>
`;
}
