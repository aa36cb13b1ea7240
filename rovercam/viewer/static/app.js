// rovercam catalog browser: hash routes, so the same files work from the server and a static site.
//   #/?sol=100&camera=NAVCAM&kind=mosaic&q=text   catalog page
//   #/output/<id>                                 product page (metadata, files, lineage)
//   #/view/<id>?mode=..&yaw=..&pitch=..&fov=..    viewer (mode=flat: &x=..&y=..&zoom=..),
//                                                 &stereo=<other eye id> for an anaglyph
//   #/view/<id>?product=range.tif&band=1&cmap=viridis&min=..&max=..   stereo and terrain rasters
//                                                 in false colour (band=rgb: three bands as RGB)
//   #/view/<id>?product=mesh.glb&yaw=..&pitch=..&dist=..   their meshes in 3-D
import { Viewer, MODES, niceScale } from "./viewer.js";
import { COLORMAPS, drawColorBar, fmtNumber } from "./colormap.js";
import { MeshViewer } from "./mesh.js";

const app = document.getElementById("app");
let catalog = null;
let viewer = null;

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
};

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function loadCatalog(force = false) {
  if (!catalog || force) catalog = await getJSON("api/outputs.json");
  return catalog;
}

function parseHash() {
  const h = location.hash.replace(/^#/, "") || "/";
  const [path, query] = h.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || "") };
}

function setHash(path, params, replace = false) {
  const q = params && [...params.keys()].length ? "?" + params.toString() : "";
  const url = "#" + path + q;
  if (replace) history.replaceState(null, "", url); else location.hash = url;
}

// ------------------------------------------------------------------ catalog page
function catalogPage(params) {
  const outputs = catalog.outputs;
  const uniq = (f) => [...new Set(outputs.map(f).filter((v) => v !== null && v !== undefined))].sort((a, b) => (a > b ? 1 : -1));
  const sols = uniq((o) => o.sol), cams = uniq((o) => o.instrument), kinds = uniq((o) => o.kind);
  const sel = (name, values, label) => el("label", {}, label + " ",
    el("select", { name, onchange: update }, el("option", { value: "" }, "all"),
      values.map((v) => el("option", { value: v, selected: String(v) === params.get(name) ? "selected" : null }, v))));
  const form = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); update(); } },
    sel("sol", sols, "Sol"), sel("camera", cams, "Camera"), sel("kind", kinds, "Kind"),
    el("label", {}, "Search ", el("input", { name: "q", type: "search", value: params.get("q") || "", oninput: update })),
    el("label", {}, el("input", { name: "all", type: "checkbox", checked: params.get("all") ? "checked" : null, onchange: update }), " all versions"));
  const list = el("div", { class: "cards", id: "cards" });
  function update() {
    const p = new URLSearchParams();
    for (const k of ["sol", "camera", "kind", "q"]) { const v = form.elements[k].value; if (v) p.set(k, v); }
    if (form.elements.all.checked) p.set("all", "1");
    setHash("/", p, true);
    render(p);
  }
  function render(p) {
    const q = (p.get("q") || "").toLowerCase();
    const shown = outputs.filter((o) => (!p.get("sol") || String(o.sol) === p.get("sol")) &&
      (!p.get("camera") || o.instrument === p.get("camera")) && (!p.get("kind") || o.kind === p.get("kind")) &&
      (p.get("all") || o.latest) && (!q || `${o.output_id} ${o.name} ${o.instrument}`.toLowerCase().includes(q)));
    list.replaceChildren();
    const bySol = new Map();
    for (const o of shown) { if (!bySol.has(o.sol)) bySol.set(o.sol, []); bySol.get(o.sol).push(o); }
    for (const [sol, group] of bySol) {
      list.append(el("section", { class: "sol", "data-sol": sol }, el("h2", {}, `Sol ${sol}`),
        el("div", { class: "grid" }, group.map(card))));
    }
    if (!shown.length) list.append(el("p", { class: "empty" }, "No outputs match."));
  }
  render(params);
  return el("div", {}, el("h1", {}, "Catalog"), form, list);
}

function card(o) {
  return el("a", { class: "card", href: `#/output/${encodeURIComponent(o.output_id)}`, "data-output": o.output_id },
    o.thumbnail ? el("img", { src: o.thumbnail, alt: o.name, loading: "lazy" }) : el("div", { class: "noimg" }, o.kind),
    el("div", { class: "meta" }, el("strong", {}, o.name), el("span", {}, `${o.instrument || ""} · ${o.kind} · v${o.version}`)));
}

// ------------------------------------------------------------------ product page
async function productPage(id) {
  const d = await getJSON(`api/outputs/${encodeURIComponent(id)}.json`);
  const rows = [["Output id", d.output_id], ["Kind", d.kind], ["Sol", d.sol], ["Instrument", d.instrument],
    ["Mission", d.mission], ["Version", `${d.version}${d.latest ? " (latest)" : ""}`], ["Start time", d.start_time],
    ["Published", d.created_at]];
  if (d.view) rows.push(["Size", `${d.view.grid.width} × ${d.view.grid.height} px`], ["Projection", d.view.projection || "none"]);
  const actions = el("div", { class: "actions" });
  if (d.view && d.view.panorama) {
    for (const m of MODES.filter((m) => m !== "flat")) actions.append(el("a", { class: "button", href: `#/view/${encodeURIComponent(id)}?mode=${m}` }, m));
  }
  if (d.view && !(d.fields || []).length) actions.append(el("a", { class: "button", href: `#/view/${encodeURIComponent(id)}?mode=flat` }, "deep zoom"));
  for (const f of d.fields || []) actions.append(el("a", { class: "button", href: `#/view/${encodeURIComponent(id)}?product=${encodeURIComponent(f)}` }, f));
  for (const m of d.meshes || []) actions.append(el("a", { class: "button", href: `#/view/${encodeURIComponent(id)}?product=${encodeURIComponent(m)}` }, `${m} (3-D)`));
  if (d.view && d.view.panorama && d.stereo_partner) {
    actions.append(el("a", { class: "button", href: `#/view/${encodeURIComponent(id)}?mode=rectilinear&stereo=${encodeURIComponent(d.stereo_partner)}` }, "anaglyph"));
  }
  const table = (head, body) => el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
    el("tbody", {}, body.map((r) => el("tr", {}, r.map((c) => el("td", {}, c ?? ""))))));
  return el("div", { class: "product" },
    el("p", {}, el("a", { href: "#/" }, "← catalog")),
    el("h1", {}, d.name),
    el("div", { class: "split" },
      d.thumbnail ? el("img", { class: "preview", src: d.thumbnail, alt: d.name }) : null,
      el("table", { class: "kv" }, el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v ?? "")))))),
    actions,
    el("h2", {}, "Files"),
    table(["file", "sha256"], d.files.map((f) => [el("a", { href: f.url }, f.name), (f.sha256 || "").slice(0, 16)])),
    d.versions.length > 1 ? el("p", {}, "Versions: ", d.versions.map((v) => [el("a", { href: `#/output/${encodeURIComponent(v)}` }, v), " "])) : null,
    el("h2", {}, "Lineage"),
    d.run ? el("p", { class: "run" }, `run ${d.run.run_id} (${d.run.flow}, ${d.run.status}), software ${d.run.software_version}, config ${(d.run.config_hash || "").slice(0, 12)}`) : null,
    table(["input product", "sha256", "state", "start time"], d.inputs.map((i) => [i.product_id, i.sha256.slice(0, 16), i.state || "(not in this catalog)", i.start_time])),
    el("h2", {}, "Projection and tags"),
    table(["tag", "value"], Object.entries(d.tags)));
}

// ------------------------------------------------------------------ viewer page
async function viewerPage(id, params) {
  await loadCatalog();
  const find = (x) => catalog.outputs.find((o) => o.output_id === x);
  let o = find(id);
  if (!o) { await loadCatalog(true); o = find(id); }
  if (o && ((o.fields || []).length || (o.meshes || []).length)) return fieldPage(o, params);
  if (!o || !o.view) throw new Error(`no viewable output ${id}`);
  const partner = params.get("stereo") ? find(params.get("stereo")) : null;
  const canvas = el("canvas", { id: "view", "aria-label": `view of ${o.name}` });
  const modeSel = el("select", { id: "mode", onchange: () => viewer.setView({ mode: modeSel.value, fov: { fisheye: 180, stereographic: 160, littleplanet: 300, panini: 150 }[modeSel.value] || 90 }) },
    (o.view.panorama ? MODES : ["flat"]).map((m) => el("option", { value: m }, m)));
  const info = el("span", { class: "info" });
  const readout = el("div", { id: "readout", class: "overlay" });
  const scaleBar = el("div", { class: "scalebar" }), scaleText = el("span", {});
  const scale = el("div", { id: "scale", class: "overlay" }, scaleBar, scaleText);
  const page = el("div", { class: "viewer" },
    el("div", { class: "bar" }, el("a", { href: `#/output/${encodeURIComponent(id)}` }, "← " + o.name), " ",
      el("label", {}, "Projection ", modeSel), partner ? el("span", { class: "tag" }, "anaglyph (red: left, cyan: right)") : null, info),
    el("div", { class: "stage" }, canvas, readout, scale));
  app.replaceChildren(page);
  const probe = valueProbe(o, readout);
  let pending = null;
  viewer = new Viewer(canvas, {
    tileUrl: (oid, z, x, y) => `tiles/${encodeURIComponent(oid)}/${z}/${x}/${y}.jpg`,
    onChange: (v) => {
      modeSel.value = v.mode;
      if (viewer) { showScale(viewer, canvas, scaleBar, scaleText); probe.update(viewer); }
      info.textContent = v.mode === "flat" ? `zoom ${v.zoom.toFixed(3)}` : `yaw ${v.yaw.toFixed(1)}° pitch ${v.pitch.toFixed(1)}° fov ${v.fov.toFixed(1)}°`;
      clearTimeout(pending);
      pending = setTimeout(() => {
        const p = new URLSearchParams({ mode: v.mode });
        const r = (x, n) => String(Number(x.toFixed(n)));
        if (v.mode === "flat") { p.set("x", r(v.x, 1)); p.set("y", r(v.y, 1)); p.set("zoom", r(v.zoom, 4)); }
        else { p.set("yaw", r(v.yaw, 2)); p.set("pitch", r(v.pitch, 2)); p.set("fov", r(v.fov, 2)); }
        if (partner) p.set("stereo", partner.output_id);
        if (params.get("basemax")) p.set("basemax", params.get("basemax"));
        setHash(`/view/${encodeURIComponent(id)}`, p, true);
      }, 150);
    },
  });
  window.rovercamViewer = viewer;
  canvas.addEventListener("pointermove", (e) => {
    const r = canvas.getBoundingClientRect();
    probe.move((e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height, viewer);
  });
  canvas.addEventListener("pointerleave", () => probe.move(null, null, viewer));
  new ResizeObserver(() => showScale(viewer, canvas, scaleBar, scaleText)).observe(canvas);
  const view = Object.fromEntries(params.entries());
  await viewer.open(o, view, partner && partner.view && partner.view.panorama ? partner : null);
  canvas.focus();
}

// ------------------------------------------------------------------ stereo and terrain products
// One page for every product of a stereo or terrain output: its float rasters in false colour
// (a band through a colour map, with a legend whose range can be edited, or three bands as RGB)
// and its meshes in 3-D. The value under the cursor is the stored float32 of every band.
const DEFAULT_BAND = { "xyz.tif": "3", "normals.tif": "rgb" };

async function fieldPage(o, params) {
  const id = o.output_id;
  const d = await getJSON(`api/outputs/${encodeURIComponent(id)}.json`);
  const infos = Object.fromEntries((d.field_info || []).map((f) => [f.name, f]));
  const products = [...d.fields, ...d.meshes];
  const preferred = ["range.tif", "dem.tif", ...products].find((p) => products.includes(p));
  const product = products.includes(params.get("product")) ? params.get("product") : preferred;
  if (!product) throw new Error(`no viewable product in ${id}`);
  const productSel = el("select", { id: "product", onchange: () => go({ product: productSel.value }) },
    products.map((p) => el("option", { value: p, selected: p === product ? "selected" : null }, d.meshes.includes(p) ? `${p} (3-D)` : p)));
  const info = el("span", { class: "info" });
  const bar = el("div", { class: "bar" }, el("a", { href: `#/output/${encodeURIComponent(id)}` }, "← " + o.name), " ",
    el("label", {}, "Product ", productSel), info);
  const canvas = el("canvas", { id: "view", "aria-label": `${product} of ${o.name}` });
  const stage = el("div", { class: "stage" }, canvas);
  app.replaceChildren(el("div", { class: "viewer" }, bar, stage));
  function go(change) {  // a new product, band or colour map: a new URL (and page)
    const p = new URLSearchParams({ product, ...change });
    setHash(`/view/${encodeURIComponent(id)}`, p);
  }
  if (d.meshes.includes(product)) {
    const mv = new MeshViewer(canvas, {
      onChange: (v) => {
        info.textContent = `yaw ${v.yaw.toFixed(1)}° pitch ${v.pitch.toFixed(1)}° distance ${fmtNumber(v.dist)} m`;
        clearTimeout(mv._urlTimer);
        mv._urlTimer = setTimeout(() => setHash(`/view/${encodeURIComponent(id)}`, new URLSearchParams({
          product, yaw: fmtNumber(v.yaw), pitch: fmtNumber(v.pitch), dist: fmtNumber(v.dist) }), true), 150);
      },
    });
    window.rovercamMesh = mv;
    await mv.open(`files/${encodeURIComponent(id)}/${encodeURIComponent(product)}`, Object.fromEntries(params.entries()));
    canvas.focus();
    return;
  }
  const f = infos[product];
  if (!f) throw new Error(`no description of ${product}`);
  const bands = f.bands.map((b) => String(b.band)).concat(f.rgb ? ["rgb"] : []);
  const band = bands.includes(params.get("band")) ? params.get("band") : (bands.includes(DEFAULT_BAND[product]) ? DEFAULT_BAND[product] : "1");
  const cmap = COLORMAPS[params.get("cmap")] ? params.get("cmap") : "viridis";
  const b = band === "rgb" ? null : f.bands[Number(band) - 1];
  const num = (k, dflt) => { const v = params.get(k); return v !== null && v !== "" && isFinite(Number(v)) ? Number(v) : dflt; };
  const win = b ? { lo: b.lo, hi: b.hi, min: num("min", b.lo), max: num("max", b.hi), cmap } : null;
  const bandSel = el("select", { id: "band", onchange: () => go({ band: bandSel.value, cmap }) },
    bands.map((k) => el("option", { value: k, selected: k === band ? "selected" : null },
      k === "rgb" ? `all three as RGB` : `${f.bands[Number(k) - 1].name}`)));
  bar.insertBefore(el("label", {}, "Band ", bandSel), info);
  const legend = el("div", { id: "legend", class: "overlay legend" });
  const readout = el("div", { id: "readout", class: "overlay" });
  stage.append(readout, legend);
  const unitText = (u) => (u && u !== "1" ? ` ${u}` : "");
  if (b) {
    const cmapSel = el("select", { id: "cmap", onchange: () => go({ band, cmap: cmapSel.value }) },
      Object.keys(COLORMAPS).map((k) => el("option", { value: k, selected: k === cmap ? "selected" : null }, k)));
    bar.insertBefore(el("label", {}, "Colours ", cmapSel), info);
    const colorbar = el("canvas", { class: "colorbar", width: 256, height: 12 });
    drawColorBar(colorbar, cmap);
    const input = (name, value) => el("input", { type: "number", name, step: "any", value: fmtNumber(value), class: "range" });
    const lo = input("min", win.min), hi = input("max", win.max);
    const apply = () => {
      const a = Number(lo.value), z = Number(hi.value);
      if (!isFinite(a) || !isFinite(z) || a === z) return;
      win.min = a; win.max = z;
      viewer.setField(win);
      setHash(`/view/${encodeURIComponent(id)}`, new URLSearchParams({ product, band, cmap, min: String(a), max: String(z) }), true);
    };
    lo.addEventListener("change", apply); hi.addEventListener("change", apply);
    legend.append(el("div", { class: "title" }, `${b.name}${b.units && b.units !== "1" ? ` (${b.units})` : ""}`), colorbar,
      el("div", { class: "ends" }, lo, el("span", {}, unitText(b.units)), hi),
      el("div", { class: "note" }, `stored range ${fmtNumber(b.lo)} to ${fmtNumber(b.hi)}${unitText(b.units)}`));
  } else {
    const names = ["R", "G", "B"];
    legend.append(el("div", { class: "title" }, "RGB"), ...f.bands.slice(0, 3).map((bb, i) =>
      el("div", {}, `${names[i]} = ${bb.name}: ${fmtNumber(f.rgb.lo[i])} to ${fmtNumber(f.rgb.hi[i])}${unitText(bb.units)}`)));
  }
  const summary = { output_id: id, view: { grid: f.grid, panorama: null, units: null }, field: { name: product, band } };
  const probe = valueProbe(summary, readout, product);
  viewer = new Viewer(canvas, {
    tileUrl: (oid, z, x, y, fld) => `tiles/${encodeURIComponent(oid)}/${encodeURIComponent(fld.name)}/${fld.band}/${z}/${x}/${y}.png`,
    onChange: (v) => { info.textContent = `zoom ${v.zoom.toFixed(3)}`; if (viewer) probe.update(viewer); },
  });
  window.rovercamViewer = viewer;
  viewer.setField(win);
  canvas.addEventListener("pointermove", (e) => {
    const r = canvas.getBoundingClientRect();
    probe.move((e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height, viewer);
  });
  canvas.addEventListener("pointerleave", () => probe.move(null, null, viewer));
  await viewer.open(summary, { mode: "flat", x: params.get("x"), y: params.get("y"), zoom: params.get("zoom") });
  canvas.focus();
}

// ------------------------------------------------------------------ readout and scale
const fmtValue = (v) => (v === null ? "no data" : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toPrecision(4));

// The scale bar: a round angle (or image length) at the view centre, as long as it is on screen.
function showScale(viewer, canvas, bar, text) {
  const s = viewer.scale(), n = s && niceScale(s.unitsPerPx);
  if (!n) { bar.style.width = "0px"; text.textContent = ""; return; }
  const cssPx = n.px * canvas.getBoundingClientRect().width / canvas.width;
  bar.style.width = `${cssPx.toFixed(1)}px`;
  const label = String(Number(n.value.toPrecision(2)));
  text.textContent = s.unit === "deg" ? `${label}°` : `${label} px`;
}

// The readout under the pointer: az/el from the view geometry at once, the stored value(s) from
// the server (api/outputs/<id>/value.json; one request in flight, the newest position wins; a
// static site has no such route, so it shows az/el only).
function valueProbe(o, readout, file = null) {
  let at = null, wanted = null, busy = false, api = true;
  const units = o.view.units || "units unknown";
  const query = (p) => (p.az !== null
    ? `az=${p.az.toFixed(6)}&el=${p.el.toFixed(6)}` : `x=${p.x.toFixed(3)}&y=${p.y.toFixed(3)}`) +
    (file ? `&file=${encodeURIComponent(file)}` : "");
  const angles = (p) => (p.az !== null ? `az ${p.az.toFixed(2)}° el ${p.el.toFixed(2)}°` : "");
  function render(p, d) {
    const parts = [angles(p)];
    if (!p.inside) parts.push("outside the image");
    else if (d && d.values) {
      if (file) {  // a float product: each band with its own units ("1": unitless)
        const unit = (i) => { const u = (d.band_units || [])[i]; return u && u !== "1" ? ` ${u}` : ""; };
        parts.push(d.values.map((v, i) => `${d.bands[i]} ${fmtValue(v)}${v === null ? "" : unit(i)}`).join(" "), `px ${d.x}, ${d.y}`);
      } else {
        const vals = d.values.map((v, i) => `${d.bands[i]} ${fmtValue(v)}`).join(" ");
        parts.push(`${vals} ${d.units || units}`, `px ${d.x}, ${d.y}`);
      }
    } else if (d && d.error) parts.push(`no value (${d.error})`);
    else if (d) parts.push("outside the image");
    else if (api) parts.push("…");
    readout.textContent = parts.filter(Boolean).join(" · ");
    readout.dataset.state = !p.inside || d || !api ? "done" : "pending";
  }
  async function pump() {
    if (busy || !wanted) return;
    const q = wanted; wanted = null; busy = true;
    try {
      const r = await fetch(`api/outputs/${encodeURIComponent(o.output_id)}/value.json?${q}`);
      if (r.status === 404) api = false;
      const d = r.ok ? await r.json() : { values: null, error: `HTTP ${r.status}` };
      if (api && at && query(at) === q) render(at, d);
    } catch (err) { api = false; }
    busy = false;
    if (!api && at) render(at, null);
    pump();
  }
  let last = null;
  return {
    move(cx, cy, viewer) {
      last = cx === null ? null : [cx, cy];
      this.update(viewer);
    },
    update(viewer) {
      at = last && viewer.pointAt(last[0], last[1]);
      if (!at) { readout.textContent = ""; readout.dataset.state = "none"; return; }
      const q = query(at);
      render(at, null);
      if (at.inside && api) { wanted = q; pump(); }
    },
  };
}

// ------------------------------------------------------------------ router
// history.replaceState (our own URL updates) fires no hashchange: every call here is a navigation.
async function route() {
  const { parts, params } = parseHash();
  window.rovercamViewer = null;
  window.rovercamMesh = null;
  delete document.body.dataset.ready;
  try {
    if (parts[0] === "output" && parts[1]) app.replaceChildren(await productPage(parts[1]));
    else if (parts[0] === "view" && parts[1]) await viewerPage(parts[1], params);
    else { await loadCatalog(true); app.replaceChildren(catalogPage(params)); }
  } catch (err) {
    app.replaceChildren(el("div", { class: "error" }, el("p", {}, String(err.message || err)), el("a", { href: "#/" }, "catalog")));
  }
  document.body.dataset.ready = "1";
}
window.addEventListener("hashchange", route);
route();
