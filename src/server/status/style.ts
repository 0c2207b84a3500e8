/**
 * The page's one stylesheet, inline (the page loads nothing). Below 640 px the tables
 * of what fails, what recovered and the nodes become one card per row, each cell a line
 * with its column's name, so nothing is cut off on a phone (390 px).
 */
export const STATUS_CSS = `
:root{--open:#2e9d4a;--refused:#d33a2c;--timeout:#f0a202;--unreachable:#7b2d8e;--error:#80868f;--rejected:#c2185b;--exposed:#111111;--exposed-ink:#ffd600;--line:#d7dae0;--muted:#5f6670}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2127;background:#fff;overflow-wrap:anywhere}
header{padding:10px 20px;background:#1f2d3d;color:#fff;display:flex;flex-wrap:wrap;gap:4px 20px;align-items:baseline}
header h1{font-size:18px;margin:0}
header a{color:#cfe3ff}
header nav{margin-left:auto;display:flex;flex-wrap:wrap;gap:4px 14px}
.facts{display:flex;flex-wrap:wrap;gap:2px 18px;margin:0;padding:6px 20px;background:#2b3b4e;color:#e8eef5;font-size:13px}
.facts div{display:flex;gap:6px}
.facts dt{color:#a9b8c9}
.facts dd{margin:0;font-weight:600}
.facts .down{color:#ffb4ab}
main{padding:12px 20px}
h2{font-size:16px;margin:22px 0 8px}
.verdict{font-size:16px;font-weight:600;margin:4px 0}
.verdict.bad{color:var(--refused)}
.verdict.good{color:var(--open)}
.muted,small{color:var(--muted)}
form{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:10px 0;padding:8px 12px;background:#f4f6f9;border:1px solid var(--line);border-radius:4px}
select,button,input{font:inherit;padding:2px 6px;max-width:100%}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:8px 0;font-size:13px}
.legend span{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;flex:none;width:16px;height:16px;border-radius:2px;text-align:center;line-height:16px;font-size:12px;font-style:normal;font-weight:700;color:#fff}
.scroll{overflow-x:auto;max-width:100%;border:1px solid var(--line)}
table{border-collapse:collapse}
.matrix th,.matrix td{border:1px solid #fff}
.matrix thead th{vertical-align:bottom;font-weight:400;font-size:12px;padding:4px 2px}
.matrix thead th.port{background:#f4f6f9;writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;text-align:left}
.matrix thead th.group{text-align:left;font-size:11px;white-space:nowrap;overflow:hidden;max-width:0;padding:2px 4px;color:#fff}
.matrix thead th.port b{font-weight:600}
.grp-catalog{background:#1f2d3d}
.grp-basic-service{background:#3b7dd8}
.grp-gis-environment{background:#15898a}
.grp-other{background:#7d848d}
.matrix tbody th{position:sticky;left:0;z-index:1;background:#fff;text-align:left;font-weight:400;white-space:nowrap;padding:2px 10px 2px 4px;border-right:1px solid var(--line)}
.matrix tbody th .about{display:block;font-size:11px;color:var(--muted)}
.matrix td{width:22px;min-width:22px;height:22px;padding:0;text-align:center;font-size:12px;font-weight:700;color:#fff;background:#f1f2f4}
td[data-state=open],.sw.open{background:var(--open)}
td[data-state=refused],.sw.refused{background:var(--refused)}
td[data-state=timeout],.sw.timeout{background:var(--timeout)}
td[data-state=unreachable],.sw.unreachable{background:var(--unreachable)}
td[data-state=error],.sw.error{background:var(--error)}
td[data-state=rejected],.sw.rejected{background:var(--rejected)}
td[data-state=unprobed],.sw.unprobed{background:#fff;outline:1px dashed #9aa1ab;outline-offset:-3px}
.matrix td.quiet,.sw.quiet{opacity:.35}
.matrix td.fail,.sw.fail{box-shadow:inset 0 0 0 2px #1d2127}
.matrix td[data-verdict=exposed],.sw.exposed{background:var(--exposed);color:var(--exposed-ink);box-shadow:inset 0 0 0 2px var(--exposed-ink)}
.matrix td.more{width:auto;padding:0 6px;color:var(--refused);background:#fff}
.sw.none{background:#f1f2f4}
.badge{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;background:#fde7e5;color:#a3231a;margin-left:4px}
.list{width:100%}
.list th,.list td{text-align:left;padding:5px 10px;border-bottom:1px solid var(--line);vertical-align:top}
.list thead th{background:#f4f6f9}
.list .members{display:block;font-size:12px;color:var(--muted)}
.state{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px;white-space:nowrap}
.state.open{background:var(--open)}.state.refused{background:var(--refused)}.state.timeout{background:var(--timeout)}.state.unreachable{background:var(--unreachable)}.state.error{background:var(--error)}.state.rejected{background:var(--rejected)}.state.unprobed{background:#fff;color:#1d2127;outline:1px dashed #9aa1ab}
.state.exposed{background:var(--exposed);color:var(--exposed-ink);font-weight:700}
.pages{display:flex;flex-wrap:wrap;gap:6px 14px;margin:8px 0;font-size:13px}
.totals{margin:16px 0;font-size:13px;color:var(--muted)}
@media (max-width:640px){
header,.facts,main{padding-left:10px;padding-right:10px}
header nav{margin-left:0}
.list thead{display:none}
.list,.list tbody,.list tr,.list td{display:block;width:100%}
.list tr{border:1px solid var(--line);border-radius:4px;margin:0 0 8px;padding:4px 0}
.list td{border:0;padding:2px 10px}
.list td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:12px}
}
`;
