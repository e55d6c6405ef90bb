// The inline CSS and scripts of report.html (report_html.cc); kept apart so the renderer reads as code.
// Nothing here references anything outside the page: no URL, font file or import.
#pragma once

#include <string_view>

namespace qforge::eval::report_detail {

inline constexpr std::string_view kCss = R"css(
:root{--fg:#1b1f24;--muted:#5b636e;--faint:#8a939e;--line:#e3e7ec;--bg:#f6f7f9;--card:#fff;--accent:#0b5cad;--bad:#b3261e;--good:#1a7f37}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif;-webkit-font-smoothing:antialiased}
.wrap{max-width:1480px;margin:0 auto;padding:28px 32px 48px}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
header.top{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:22px 26px;margin-bottom:22px}
.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:11.5px;color:var(--accent);font-weight:600}
h1{font-size:24px;margin:4px 0 6px;font-weight:650;word-break:break-all}
h1 .dir{color:var(--muted);font-weight:400}
h2{font-size:18px;margin:0 0 4px;font-weight:650}
h2 .num{color:var(--accent);margin-right:8px}
h3{font-size:14px;margin:16px 0 6px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.chips{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0 14px}
.chip{background:#eef3f9;color:#23415f;border-radius:999px;padding:2px 10px;font-size:12.5px}
.chip.bad{background:#fbeaea;color:var(--bad)}
pre.cmd{background:#0f1720;color:#e6edf3;border-radius:8px;padding:10px 14px;margin:0;white-space:pre-wrap;word-break:break-all}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:16px 0 0}
.meta dt{color:var(--muted)}
.meta dd{margin:0}
.meta ul{margin:0;padding-left:18px}
.sha{color:var(--faint)}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px 24px;margin-bottom:22px}
.hint{color:var(--muted);margin:0 0 12px;font-size:13px}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}
table.matrix{font-size:13px;font-variant-numeric:tabular-nums}
table.matrix th,table.matrix td{padding:5px 9px;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:top}
table.matrix thead th{background:#f0f3f6;font-weight:600;text-align:right;color:#2b3137;vertical-align:bottom}
table.matrix thead tr:not(.groups) th{white-space:normal;min-width:56px}
table.matrix thead th .sub{display:block;font-weight:400;font-size:11px;color:var(--muted)}
table.matrix thead tr.groups th{text-align:center;font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);border-bottom:0;background:#f7f9fb}
table.matrix thead tr.groups th+th{border-left:1px solid var(--line)}
table.matrix thead th.sortable{cursor:pointer;user-select:none}
table.matrix thead th.sortable:hover{background:#e4eaf0}
table.matrix thead th.sortable::after{content:"\2195";color:#b5bdc6;margin-left:4px;font-size:11px}
table.matrix thead th[aria-sort=ascending]::after{content:"\25B2";color:var(--accent)}
table.matrix thead th[aria-sort=descending]::after{content:"\25BC";color:var(--accent)}
table.matrix th.l,table.matrix td.l{text-align:left}
table.matrix td{text-align:right}
table.matrix tbody tr:nth-child(even){background:#fafbfc}
table.matrix tbody tr:hover,table.matrix tbody tr.hl{background:#fff6d9}
table.matrix tbody tr.baseline{background:#f1f6fd}
table.matrix tbody tr.failed{background:#fdf3f3}
table.matrix tbody tr.failed td{color:var(--faint)}
table.matrix tbody tr.failed td.status{color:var(--bad);font-weight:600}
td.id{font-weight:600}
table.matrix td.id,table.matrix thead tr:not(.groups) th:first-child{position:sticky;left:0;z-index:1;background:inherit;box-shadow:inset -1px 0 0 var(--line)}
table.matrix tbody tr{background:#fff}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:0}
.pm{color:var(--faint);font-size:11.5px;margin-left:4px}
.delta{display:block;font-size:11.5px;color:var(--muted)}
.delta.ok{color:var(--good)}.delta.mid{color:#9a6700}.delta.bad{color:var(--bad)}
.badge{display:inline-block;font-size:10.5px;font-weight:600;color:#b3261e;border:1px solid #e8b4b0;border-radius:4px;padding:0 4px;margin-left:6px;vertical-align:1px}
td.status{text-align:left;max-width:220px;overflow:hidden;text-overflow:ellipsis}
td.cmd{text-align:left}
td.cmd details summary{cursor:pointer;color:var(--accent);font-size:12px}
td.cmd details code{display:block;white-space:pre-wrap;word-break:break-all;width:420px;margin-top:4px;background:#f3f5f7;padding:6px 8px;border-radius:6px}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:22px;margin-bottom:22px}
.plots section.card{margin-bottom:0;min-width:0}
.plots section.wide{grid-column:1/-1}
.plots section.wide figure{max-width:860px;margin:0 auto}
@media (max-width:1100px){.plots{grid-template-columns:1fr}}
figure{margin:0}
figcaption{color:var(--muted);font-size:12.5px;margin-top:6px}
svg.plot{width:100%;height:auto;display:block;font-family:inherit}
svg.plot .bg{fill:#fff}
svg.plot .axisframe{fill:none;stroke:#aeb6bf}
svg.plot .grid{stroke:#edf0f3}
svg.plot .tickmark{stroke:#aeb6bf}
svg.plot .tick{font-size:11.5px;fill:var(--muted);font-variant-numeric:tabular-nums}
svg.plot .axis-label{font-size:12.5px;fill:#2b3137}
svg.plot .legend-bg{fill:#fff;fill-opacity:.92;stroke:#dde2e7}
svg.plot .legend text{font-size:12px;fill:#2b3137}
svg.plot .front{fill:none;stroke:#b3261e;stroke-width:1.8;stroke-opacity:.75}
svg.plot .ref{stroke:#6e7781;stroke-dasharray:5 4}
svg.plot .ref-label{font-size:11px;fill:#6e7781}
svg.plot .pt-label{font-size:11px;fill:#3b424a;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg.plot .nodata{font-size:14px;fill:var(--faint)}
svg.plot .ln path{fill:none;stroke-width:1.8}
svg.plot .pt,svg.plot .ln{cursor:default}
svg.plot .hl circle,svg.plot .hl rect,svg.plot .hl polygon{stroke:#1b1f24;stroke-width:2}
svg.plot .ln.hl path{stroke-width:3.5}
table.prov{font-size:13px}
table.prov th{text-align:left;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);padding:5px 10px}
table.prov td{padding:5px 10px;border-bottom:1px solid var(--line);vertical-align:top}
table.prov td.n{text-align:right;font-variant-numeric:tabular-nums}
ol.cmds{padding-left:0;list-style:none;margin:0}
ol.cmds li{margin:0 0 10px}
ol.cmds .rid{font-weight:600;margin-bottom:3px}
ol.cmds pre{background:#f3f5f7;border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:0;white-space:pre-wrap;word-break:break-all}
footer{color:var(--faint);font-size:12px;text-align:center;margin-top:8px}
.js-error{background:#fdf3f3;color:var(--bad);border:1px solid var(--bad);padding:8px;margin:8px}
)css";

// Runs first: any later script error leaves a visible marker in the DOM (the browser test looks for it).
inline constexpr std::string_view kErrorJs = R"js(
window.onerror=function(msg,src,line){var p=document.getElementById('js-error');if(!p){p=document.createElement('pre');p.id='js-error';p.className='js-error';(document.body||document.documentElement).appendChild(p);}p.textContent+='script error: '+msg+' (line '+line+')\n';};
)js";

// Sorting (numeric-aware: data-v numbers compare as numbers, missing values always last, ties keep the
// original order) and row <-> plot highlighting.
inline constexpr std::string_view kJs = R"js(
(function(){
  var table=document.getElementById('matrix');
  if(table){
    var body=table.tBodies[0];
    var heads=Array.prototype.slice.call(table.querySelectorAll('th.sortable'));
    var key=function(td){
      if(!td)return null;
      if(td.hasAttribute('data-v')){var v=td.getAttribute('data-v');return v===''?null:parseFloat(v);}
      var t=td.hasAttribute('data-s')?td.getAttribute('data-s'):td.textContent.trim();
      return t===''||t==='\u2014'?null:t;
    };
    var sortBy=function(th){
      var col=parseInt(th.getAttribute('data-col'),10);
      var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
      heads.forEach(function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',dir>0?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=key(a.cells[col]),y=key(b.cells[col]),o=a.getAttribute('data-i')-b.getAttribute('data-i');
        if(x===null||y===null)return x===y?o:(x===null?1:-1);
        var c=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y),undefined,{numeric:true});
        return c?c*dir:o;
      });
      rows.forEach(function(r){body.appendChild(r);});
    };
    heads.forEach(function(th){
      th.addEventListener('click',function(){sortBy(th);});
      th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sortBy(th);}});
    });
  }
  var mark=function(row,on){
    document.querySelectorAll('[data-row="'+row+'"]').forEach(function(el){el.classList.toggle('hl',on);});
  };
  document.querySelectorAll('[data-row]').forEach(function(el){
    var row=el.getAttribute('data-row');
    el.addEventListener('mouseenter',function(){mark(row,true);});
    el.addEventListener('mouseleave',function(){mark(row,false);});
  });
  document.body.dataset.ok='1';
})();
)js";

}  // namespace qforge::eval::report_detail
