// a minimal DOM: enough for the page's script to run, click and hover
const fs = require('fs');
const html = fs.readFileSync(process.argv[2], 'utf8');
const script = html.match(/<script>([\s\S]*?)<\/script>/)[1];
const datas = [...html.matchAll(/<script type="application\/json" class="graph-data">([\s\S]*?)<\/script>/g)].map(m => m[1]);
function el(tag, attrs) {
  return { tag, attrs: Object.assign({}, attrs), style: {}, dataset: {}, listeners: {}, children: [], textContent: '',
    setAttribute(k, v) { this.attrs[k] = String(v); }, getAttribute(k) { return this.attrs[k]; },
    addEventListener(t, f) { this.listeners[t] = f; },
    querySelector(sel) { return this.children.find(c => c.tag === sel.split('.')[0] || c.cls === sel) || null; },
    querySelectorAll(sel) { return this.children.filter(c => c.tag === sel); } };
}
const byId = {};
const sections = datas.map((d, k) => {
  const data = JSON.parse(d.replace(/<\\\//g, '</'));
  const svg = el('svg');
  const clusters = [];
  for (const path in data.clusters) { const c = el('g'); c.dataset.path = path; c.children = [el('rect'), el('text')]; c.children[1].textContent = 'L ' + path; clusters.push(c); }
  svg.querySelectorAll = sel => sel === 'g.cluster' ? clusters : [];
  data.nodes.forEach((n, i) => { byId[data.prefix + 'n' + i] = el('g'); });
  data.edges.forEach((e, i) => { byId[data.prefix + 'e' + i] = el('path'); });
  const buttons = ['collapse', 'expand', 'zoom-in', 'zoom-out'].map(a => { const b = el('button'); b.dataset.action = a; return b; });
  const sec = el('section');
  sec.querySelector = sel => sel === 'svg' ? svg : sel === 'script.graph-data' ? { textContent: d } : null;
  sec.querySelectorAll = sel => sel === '.toolbar button' ? buttons : [];
  return { sec, svg, clusters, buttons, data };
});
const info = el('div'); info.querySelector = () => el('div'); info.querySelectorAll = () => Array.from({length: 200}, () => el('td'));
global.document = { getElementById: id => id === 'info' ? info : byId[id], querySelectorAll: sel => sections.map(s => s.sec) };
eval(script);
for (const s of sections) {
  const hidden = () => Object.keys(byId).filter(k => k.startsWith(s.data.prefix + 'n') && byId[k].style.display === 'none').length;
  console.log('graph', s.data.prefix, 'nodes', s.data.nodes.length, 'hidden', hidden(), 'height', s.svg.attrs.height);
  if (s.clusters.length) {
    const c = s.clusters[s.clusters.length - 1];
    c.listeners.click({ stopPropagation() {} });
    console.log(' collapse', c.dataset.path, '-> hidden', hidden(), 'height', s.svg.attrs.height, 'label', c.children[1].textContent);
    s.buttons[0].listeners.click(); console.log(' collapse all -> hidden', hidden(), 'height', s.svg.attrs.height);
    s.buttons[1].listeners.click(); console.log(' expand all -> hidden', hidden(), 'height', s.svg.attrs.height);
    byId[s.data.prefix + 'n0'].listeners.mouseenter(); console.log(' hover shows', info.style.display);
  }
}
