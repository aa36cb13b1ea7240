// rovercam panorama and deep-zoom viewer: one WebGL2 fragment shader, no libraries.
//
// Every screen pixel goes through the chosen projection to a view direction (camera frame:
// x right, y up, z forward), is turned by pitch then yaw into azimuth (clockwise from north)
// and elevation (up), then into the panorama's grid pixel (JPL CYLINDRICAL / EQUIRECTANGULAR:
// x = (az - az_start)/s, y = (el_top - el)/s, pixel centres at integers), and is sampled from
// a base texture (one pyramid level <= 4096 px wide, loaded coarse-first) or, where loaded,
// a detail texture holding the tiles of the current view at the level the zoom needs.
// The projection formulas are written out in docs/viewer.md; the tests recompute them in numpy.
// A float product (range, XYZ, heights; rovercam.viewer.fields) comes as scalar tiles (R = value
// quantised over the band's [lo, hi], G = 255 where it exists); the shader divides R by G after
// filtering, maps the value through the legend's window and colours it from a colour map table.
import { colormapLut } from "./colormap.js";

export const MODES = ["rectilinear", "fisheye", "architectural", "stereographic", "littleplanet", "panini", "flat"];
const MODE_ID = { rectilinear: 0, fisheye: 1, stereographic: 2, littleplanet: 3, architectural: 4, panini: 5, flat: 6 };
export const FOV_LIMITS = {
  rectilinear: [1, 150], architectural: [1, 150], fisheye: [1, 360], stereographic: [1, 330],
  littleplanet: [60, 340], panini: [1, 300],
};
const DEFAULT_FOV = { rectilinear: 90, architectural: 90, fisheye: 180, stereographic: 160, littleplanet: 300, panini: 150 };
const BASE_MAX = 4096;     // widest base level, px
const COARSE_MAX = 1024;   // widest first level, px
const DETAIL_TILES = 8;    // detail texture side, tiles
const D2R = Math.PI / 180;

export function focalPx(mode, fovDeg, width) {
  const h = 0.5 * fovDeg * D2R, w2 = 0.5 * width;
  if (mode === "rectilinear" || mode === "architectural") return w2 / Math.tan(h);
  if (mode === "fisheye") return w2 / h;
  return w2 / (2 * Math.tan(0.5 * h));  // stereographic, little planet, Panini
}

// Camera-frame ray of normalised screen point (u, v) = (offset px) / f, y up; null off the map.
export function camRay(mode, u, v, pitch) {
  if (mode === "rectilinear") return [u, v, 1];
  if (mode === "architectural") return [u, v + Math.tan(pitch), 1];
  if (mode === "panini") {
    const phi = 2 * Math.atan(0.5 * u), lat = Math.atan(0.5 * v * (1 + Math.cos(phi)));
    return [Math.cos(lat) * Math.sin(phi), Math.sin(lat), Math.cos(lat) * Math.cos(phi)];
  }
  const r = Math.hypot(u, v), th = mode === "fisheye" ? r : 2 * Math.atan(0.5 * r);
  if (th > Math.PI) return null;
  const s = r > 0 ? Math.sin(th) / r : 0;
  return [u * s, v * s, Math.cos(th)];
}

export function rotationPitch(mode, pitch) {
  return mode === "littleplanet" ? -0.5 * Math.PI : mode === "architectural" ? 0 : pitch;
}

// (az, el) in degrees of camera ray d for a view at yaw, pitch (radians).
export function azEl(d, yaw, pitch) {
  const f0 = d[2] * Math.cos(pitch) - d[1] * Math.sin(pitch);
  const u0 = d[2] * Math.sin(pitch) + d[1] * Math.cos(pitch);
  return [(yaw + Math.atan2(d[0], f0)) / D2R, Math.atan2(u0, Math.hypot(f0, d[0])) / D2R];
}

function mod(a, n) { return a - n * Math.floor(a / n); }

export function gridPx(az, el, pano, width) {
  const s = pano.scale_deg;
  let rel = mod(az - pano.az_start_deg + 0.5 * s, 360) - 0.5 * s;
  if (!pano.periodic_width && rel > 0.5 * (width * s + 360)) rel -= 360;
  return [rel / s, (pano.el_top_deg - el) / s];
}

// The longest round length (1, 2 or 5 times a power of ten) of at most maxPx screen px, for a
// scale bar: { value, px } in the units of unitsPerPx (degrees or image pixels per screen px).
export function niceScale(unitsPerPx, maxPx = 120) {
  if (!(unitsPerPx > 0) || !isFinite(unitsPerPx)) return null;
  const most = unitsPerPx * maxPx, p = 10 ** Math.floor(Math.log10(most));
  const value = [5, 2, 1].map((k) => k * p).find((v) => v <= most * (1 + 1e-9));
  return { value, px: value / unitsPerPx };
}

const VERT = `#version 300 es
in vec2 aPos; void main() { gl_Position = vec4(aPos, 0.0, 1.0); }`;

const FRAG = `#version 300 es
precision highp float;
uniform vec2 uSize; uniform int uMode; uniform float uF, uYaw, uPitch; uniform vec3 uFlat;
uniform float uTile;
uniform sampler2D uBaseA; uniform vec4 uGridA; uniform vec3 uFullA; // W, H, base reduction
uniform vec2 uBaseSizeA; uniform int uPanoA;
uniform sampler2D uDetail; uniform vec4 uDet; // tx0, ty0, reduction, active
uniform vec3 uDetWrap; // level period px (0 = none), tiles per row (0 = none), texture side px
uniform int uStereo; uniform sampler2D uBaseB; uniform vec4 uGridB; uniform vec3 uFullB; uniform vec2 uBaseSizeB;
uniform int uField; uniform vec4 uFieldWin; uniform sampler2D uCmap; // lo, hi, window min, window max
out vec4 outColor;
const float PI = 3.141592653589793;
const float DT = ${DETAIL_TILES}.0;

bool camRay(vec2 p, out vec3 d) {
  vec2 u = p / uF; float r = length(u);
  if (uMode == 0) { d = normalize(vec3(u, 1.0)); return true; }
  if (uMode == 4) { d = normalize(vec3(u.x, u.y + tan(uPitch), 1.0)); return true; }
  if (uMode == 5) {
    float phi = 2.0 * atan(0.5 * u.x); float lat = atan(0.5 * u.y * (1.0 + cos(phi)));
    d = vec3(cos(lat) * sin(phi), sin(lat), cos(lat) * cos(phi)); return true;
  }
  float th = uMode == 1 ? r : 2.0 * atan(0.5 * r);
  d = vec3(r > 0.0 ? u * (sin(th) / r) : vec2(0.0), cos(th));
  return th <= PI;
}
vec2 azEl(vec3 d, float pitch) {
  float f0 = d.z * cos(pitch) - d.y * sin(pitch);
  float u0 = d.z * sin(pitch) + d.y * cos(pitch);
  return degrees(vec2(uYaw + atan(d.x, f0), atan(u0, length(vec2(f0, d.x)))));
}
vec2 gridPx(vec2 ae, vec4 g, vec3 full) {  // g: az_start, el_top, scale, periodic width
  float rel = mod(ae.x - g.x + 0.5 * g.z, 360.0) - 0.5 * g.z;
  if (g.w == 0.0 && rel > 0.5 * (full.x * g.z + 360.0)) rel -= 360.0;
  return vec2(rel, g.y - ae.y) / g.z;
}
bool inside(vec2 p0, vec4 g, vec3 full) {
  bool xok = g.w > 0.0 || (p0.x >= -0.5 && p0.x <= full.x - 0.5);
  return xok && p0.y >= -0.5 && p0.y <= full.y - 0.5;
}
vec4 sampleBase(sampler2D tex, vec2 p0, vec3 full, vec2 size) {
  vec2 uv = (p0 + 0.5) / (full.z * size);
  vec2 dx = dFdx(uv), dy = dFdy(uv);
  dx.x -= round(dx.x); dy.x -= round(dy.x);  // no mip jump at the azimuth seam
  return textureGrad(tex, uv, dx, dy);
}
vec4 sampleDetail(vec2 p0) {
  if (uDet.w < 0.5) return vec4(0.0);
  vec2 pd = (p0 + 0.5) / uDet.z - 0.5;
  if (uDetWrap.x > 0.0) pd.x = mod(pd.x, uDetWrap.x);
  vec2 t = floor(pd / uTile);
  float sx = uDetWrap.y > 0.0 ? mod(t.x - uDet.x, uDetWrap.y) : t.x - uDet.x;
  float sy = t.y - uDet.y;
  if (sx < 0.0 || sy < 0.0 || sx >= DT || sy >= DT) return vec4(0.0);
  vec2 tc = (vec2(sx, sy) * uTile + (pd - t * uTile) + 0.5) / uDetWrap.z;
  return textureLod(uDetail, tc, 0.0);
}
void main() {
  vec2 p = gl_FragCoord.xy - 0.5 * uSize;
  vec2 p0A, p0B; bool ok = true;
  if (uMode == 6) {
    p0A = uFlat.xy + vec2(p.x, -p.y) / uFlat.z; p0B = p0A;
  } else {
    vec3 d; ok = camRay(p, d);
    float pitch = uMode == 3 ? -0.5 * PI : (uMode == 4 ? 0.0 : uPitch);
    vec2 ae = azEl(d, pitch);
    p0A = gridPx(ae, uGridA, uFullA); p0B = gridPx(ae, uGridB, uFullB);
  }
  vec4 a = sampleBase(uBaseA, p0A, uFullA, uBaseSizeA);
  vec4 det = sampleDetail(p0A);
  if (det.a > 0.5) a = det;
  bool inA = ok && inside(p0A, uGridA, uFullA);
  vec3 col = inA ? a.rgb : vec3(0.0);
  if (uField == 1 && inA) {
    if (a.g < 0.5) col = vec3(0.2);  // no data
    else {
      float v = mix(uFieldWin.x, uFieldWin.y, a.r / a.g);
      float t = clamp((v - uFieldWin.z) / max(uFieldWin.w - uFieldWin.z, 1e-30), 0.0, 1.0);
      col = texture(uCmap, vec2((t * 255.0 + 0.5) / 256.0, 0.5)).rgb;
    }
  }
  if (uStereo == 1) {
    vec4 b = sampleBase(uBaseB, p0B, uFullB, uBaseSizeB);
    bool inB = ok && inside(p0B, uGridB, uFullB);
    const vec3 Y = vec3(0.299, 0.587, 0.114);
    float la = inA ? dot(a.rgb, Y) : 0.0, lb = inB ? dot(b.rgb, Y) : 0.0;
    col = vec3(la, lb, lb);
  }
  outColor = vec4(col, 1.0);
}`;

function compile(gl, type, src) {
  const s = gl.createShader(type);
  gl.shaderSource(s, src); gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
  return s;
}

class Layer {
  constructor(summary, baseMax = BASE_MAX) {
    const v = summary.view;
    this.id = summary.output_id;
    this.field = summary.field || null;  // { name, band } of a float product, else null
    this.grid = v.grid;               // width, height, tile, top
    this.pano = v.panorama;           // null for flat images
    const fit = (max) => {
      let z = this.grid.top;
      while (z > 0 && (this.levelSize(z)[0] > max || this.levelSize(z)[1] > max)) z--;
      return z;
    };
    this.baseLevel = fit(baseMax);
    this.coarseLevel = fit(Math.min(COARSE_MAX, baseMax / 2));
    this.baseSize = this.levelSize(this.baseLevel);
    this.baseTiles = 0; this.baseLoaded = 0; this.complete = false; this.coarseReady = false;
  }
  reduction(z) { return 2 ** (this.grid.top - z); }
  levelSize(z) { const s = this.reduction(z); return [Math.ceil(this.grid.width / s), Math.ceil(this.grid.height / s)]; }
  tileCounts(z) { const [w, h] = this.levelSize(z), t = this.grid.tile; return [Math.ceil(w / t), Math.ceil(h / t)]; }
  gridVec() { const p = this.pano; return p ? [p.az_start_deg, p.el_top_deg, p.scale_deg, p.periodic_width] : [0, 0, 1, 0]; }
}

export class Viewer {
  constructor(canvas, { tileUrl, onChange } = {}) {
    this.canvas = canvas;
    this.tileUrl = tileUrl;
    this.onChange = onChange || (() => {});
    const gl = canvas.getContext("webgl2", { antialias: false, preserveDrawingBuffer: true, alpha: false });
    if (!gl) throw new Error("WebGL2 is not available in this browser");
    this.gl = gl;
    const prog = gl.createProgram();
    gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VERT));
    gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FRAG));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
    this.prog = prog;
    this.loc = {};
    for (let i = 0; i < gl.getProgramParameter(prog, gl.ACTIVE_UNIFORMS); i++) {
      const name = gl.getActiveUniform(prog, i).name;
      this.loc[name] = gl.getUniformLocation(prog, name);
    }
    const buf = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 3, -1, -1, 3]), gl.STATIC_DRAW);
    const aPos = gl.getAttribLocation(prog, "aPos");
    gl.enableVertexAttribArray(aPos);
    gl.vertexAttribPointer(aPos, 2, gl.FLOAT, false, 0, 0);
    this.maxTex = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    this.empty = this._texture(1, 1, false, false);
    this.field = null;                // { lo, hi, min, max, cmap } while a scalar band is shown
    this.cmapTex = null;
    this.view = { mode: "rectilinear", yaw: 0, pitch: 0, fov: 90, x: 0, y: 0, zoom: 1 };
    this.layers = [];
    this.frames = 0; this.firstFrameMs = null; this.sharpMs = null;
    this.detail = null; this.detailTex = null; this.detailGen = 0; this.detailPending = 0;
    this.generation = 0;
    this._dirty = false; this._detailTimer = null;
    this._bindInput();
    new ResizeObserver(() => this._resize()).observe(canvas);
    this._resize();
  }

  // ---------------------------------------------------------------- public
  async open(summary, view = {}, partner = null) {
    this.generation++;
    const gen = this.generation;
    // basemax (URL parameter) caps the base level below 4096 px and the texture limit, so a
    // small panorama can exercise the detail tiles
    const baseMax = Math.min(this.maxTex, BASE_MAX, Math.max(256, num(view.basemax, BASE_MAX)));
    this.layers = [new Layer(summary, baseMax)];
    if (partner) this.layers.push(new Layer(partner, baseMax));
    const L = this.layers[0];
    const flatOnly = !L.pano;
    const mode = flatOnly ? "flat" : (MODES.includes(view.mode) ? view.mode : "rectilinear");
    this.view = {
      mode, yaw: num(view.yaw, L.pano ? L.pano.az_start_deg + 0.5 * L.grid.width * L.pano.scale_deg : 0),
      pitch: num(view.pitch, 0), fov: num(view.fov, DEFAULT_FOV[mode] || 90),
      x: num(view.x, 0.5 * L.grid.width - 0.5), y: num(view.y, 0.5 * L.grid.height - 0.5),
      zoom: num(view.zoom, Math.min(this.canvas.width / L.grid.width, this.canvas.height / L.grid.height)),
    };
    this._clampView();
    this.onChange({ ...this.view });
    this.firstFrameMs = null; this.sharpMs = null; this.baseMs = null; this.detail = null;
    for (const layer of this.layers) {
      layer.tex = this._texture(layer.baseSize[0], layer.baseSize[1], true, !!(layer.pano && layer.pano.periodic_width));
    }
    await Promise.all(this.layers.map((layer) => this._loadBase(layer, gen)));
    if (gen === this.generation) this._scheduleDetail();
  }

  setView(partial) {
    Object.assign(this.view, partial);
    this._clampView();
    this._changed();
  }

  status() {
    const L = this.layers[0];
    return {
      frames: this.frames, firstFrameMs: this.firstFrameMs, baseMs: this.baseMs, sharpMs: this.sharpMs,
      baseComplete: this.layers.length > 0 && this.layers.every((l) => l.complete),
      baseLevel: L ? L.baseLevel : null, coarseLevel: L ? L.coarseLevel : null,
      detailLevel: this.detail ? this.detail.z : null, detailPending: this.detailPending,
      width: this.canvas.width, height: this.canvas.height, view: { ...this.view },
      field: this.field ? { ...this.field } : null,
    };
  }

  // What is under canvas point (cx, cy) (px from the top-left, continuous): azimuth (0..360,
  // clockwise from north) and elevation in degrees (null for a flat image without a panorama
  // grid), the level-0 pixel (x, y) (centres at integers) and whether it is on the raster; null
  // where the projection shows nothing.
  pointAt(cx, cy) {
    const L = this.layers[0], v = this.view;
    if (!L) return null;
    const px = cx - 0.5 * this.canvas.width, py = 0.5 * this.canvas.height - cy;
    let az = null, el = null, q;
    if (v.mode === "flat") {
      q = [v.x + px / v.zoom, v.y - py / v.zoom];
      if (L.pano) { az = L.pano.az_start_deg + q[0] * L.pano.scale_deg; el = L.pano.el_top_deg - q[1] * L.pano.scale_deg; }
    } else {
      const f = this._focal(), d = camRay(v.mode, px / f, py / f, v.pitch * D2R);
      if (!d) return null;
      const n = Math.hypot(d[0], d[1], d[2]);
      [az, el] = azEl([d[0] / n, d[1] / n, d[2] / n], v.yaw * D2R, rotationPitch(v.mode, v.pitch * D2R));
      q = gridPx(az, el, L.pano, L.grid.width);
    }
    const per = L.pano ? L.pano.periodic_width : 0;
    const inside = q[1] >= -0.5 && q[1] <= L.grid.height - 0.5 && (per > 0 || (q[0] >= -0.5 && q[0] <= L.grid.width - 0.5));
    return { az: az === null ? null : mod(az, 360), el, x: q[0], y: q[1], inside };
  }

  // Scale at the view centre: { unitsPerPx, unit } with unit "deg" (panoramas: degrees per canvas
  // px; every mode's radius-to-angle map has slope 1/f there) or "px" (flat images: image px).
  scale() {
    const L = this.layers[0], v = this.view;
    if (!L) return null;
    if (v.mode !== "flat") return { unitsPerPx: 1 / this._focal() / D2R, unit: "deg" };
    return L.pano ? { unitsPerPx: L.pano.scale_deg / v.zoom, unit: "deg" } : { unitsPerPx: 1 / v.zoom, unit: "px" };
  }

  // ---------------------------------------------------------------- textures and tiles
  _texture(w, h, mip, repeatX) {
    const gl = this.gl, t = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, t);
    const levels = mip ? Math.floor(Math.log2(Math.max(w, h))) + 1 : 1;
    gl.texStorage2D(gl.TEXTURE_2D, levels, gl.RGBA8, w, h);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, mip ? gl.LINEAR_MIPMAP_LINEAR : gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, repeatX ? gl.REPEAT : gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    return t;
  }

  async _fetchTile(layer, z, x, y) {
    const r = await fetch(this.tileUrl(layer.id, z, x, y, layer.field));
    if (!r.ok) throw new Error(`tile ${z}/${x}/${y}: HTTP ${r.status}`);
    // scalar tiles are numbers, not colours: no premultiplication or colour-space conversion
    const opts = layer.field ? { premultiplyAlpha: "none", colorSpaceConversion: "none" } : {};
    return createImageBitmap(await r.blob(), opts);
  }

  // Colour a scalar band: value = lo + (hi - lo) R/G, coloured over [min, max] with colour map
  // cmap; null shows the tiles' own colours (RGB products, normals as (n + 1) / 2).
  setField(field) {
    const gl = this.gl;
    if (field && (!this.field || this.field.cmap !== field.cmap)) {
      if (this.cmapTex) gl.deleteTexture(this.cmapTex);
      this.cmapTex = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, this.cmapTex);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 256, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, colormapLut(field.cmap));
      for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    }
    this.field = field ? { ...field } : null;
    this._changed(false);
  }

  async _pool(jobs, width, fn) {
    let next = 0;
    const worker = async () => { while (next < jobs.length) { const j = jobs[next++]; await fn(j); } };
    await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  }

  _tilesOf(layer, z) {
    const [nx, ny] = layer.tileCounts(z), out = [];
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) out.push([x, y]);
    return out;
  }

  async _loadBase(layer, gen) {
    const gl = this.gl, T = layer.grid.tile;
    if (layer.coarseLevel < layer.baseLevel) {
      // coarse first: one or two tiles, drawn scaled up into the base texture -> first view
      const k = 2 ** (layer.baseLevel - layer.coarseLevel);
      const canvas = new OffscreenCanvas(layer.baseSize[0], layer.baseSize[1]);
      const ctx = canvas.getContext("2d");
      await this._pool(this._tilesOf(layer, layer.coarseLevel), 6, async ([x, y]) => {
        const bmp = await this._fetchTile(layer, layer.coarseLevel, x, y);
        ctx.drawImage(bmp, x * T * k, y * T * k, bmp.width * k, bmp.height * k);
        bmp.close();
      });
      if (gen !== this.generation) return;
      gl.bindTexture(gl.TEXTURE_2D, layer.tex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, gl.RGBA, gl.UNSIGNED_BYTE, canvas);
      gl.generateMipmap(gl.TEXTURE_2D);
      layer.coarseReady = true;
      this._changed(false);
      this._scheduleDetail();
    }
    const tiles = this._tilesOf(layer, layer.baseLevel);
    layer.baseTiles = tiles.length;
    await this._pool(tiles, 6, async ([x, y]) => {
      const bmp = await this._fetchTile(layer, layer.baseLevel, x, y);
      if (gen !== this.generation) { bmp.close(); return; }
      gl.bindTexture(gl.TEXTURE_2D, layer.tex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, x * T, y * T, gl.RGBA, gl.UNSIGNED_BYTE, bmp);
      bmp.close();
      layer.baseLoaded++;
      layer.coarseReady = true;
      this._changed(false);
    });
    if (gen !== this.generation) return;
    gl.bindTexture(gl.TEXTURE_2D, layer.tex);
    gl.generateMipmap(gl.TEXTURE_2D);
    layer.complete = true;
    if (this.layers.every((l) => l.complete)) this.baseMs = performance.now();
    this._changed(false);
  }

  // ---------------------------------------------------------------- view geometry
  _focal() { return focalPx(this.view.mode, this.view.fov, this.canvas.width); }

  // Level-0 pixel of screen offset (px, py) (py up), or null where nothing is seen.
  _screenToGrid(layer, px, py) {
    const v = this.view;
    if (v.mode === "flat") return [v.x + px / v.zoom, v.y - py / v.zoom];
    const f = this._focal(), d = camRay(v.mode, px / f, py / f, v.pitch * D2R);
    if (!d) return null;
    const n = Math.hypot(d[0], d[1], d[2]);
    const [az, el] = azEl([d[0] / n, d[1] / n, d[2] / n], v.yaw * D2R, rotationPitch(v.mode, v.pitch * D2R));
    return gridPx(az, el, layer.pano, layer.grid.width);
  }

  // The detail level and tile window the current view needs, or null when the base suffices.
  _detailPlan(layer) {
    const W = this.canvas.width, H = this.canvas.height, N = 24, T = layer.grid.tile;
    const pts = [];
    let finest = Infinity;
    const per = layer.pano ? layer.pano.periodic_width : 0;
    for (let j = 0; j <= N; j++) {
      const row = [];
      for (let i = 0; i <= N; i++) {
        const q = this._screenToGrid(layer, (i / N - 0.5) * W, (0.5 - j / N) * H);
        const okq = q && q[1] >= -0.5 && q[1] <= layer.grid.height - 0.5 &&
          (per || (q[0] >= -0.5 && q[0] <= layer.grid.width - 0.5));
        row.push(okq ? q : null);
      }
      pts.push(row);
    }
    const step = W / N;
    for (let j = 0; j <= N; j++) for (let i = 0; i < N; i++) {
      const a = pts[j][i], b = pts[j][i + 1];
      if (!a || !b) continue;
      let dx = b[0] - a[0];
      if (per) dx -= per * Math.round(dx / per);
      finest = Math.min(finest, Math.hypot(dx, b[1] - a[1]) / step);  // level-0 px per screen px
    }
    const valid = pts.flat().filter(Boolean);
    if (!valid.length || !isFinite(finest)) return null;
    let z = Math.min(layer.grid.top, layer.grid.top - Math.floor(Math.log2(Math.max(finest, 1e-9))));
    const c = pts[N / 2][N / 2] || valid[0];
    for (; z > layer.baseLevel; z--) {
      const s = layer.reduction(z), [ntx, nty] = layer.tileCounts(z);
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const q of valid) {
        let x = q[0];
        if (per) x = c[0] + (x - c[0]) - per * Math.round((x - c[0]) / per);
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, q[1]); y1 = Math.max(y1, q[1]);
      }
      const pad = 0.5 * s * W / N;  // the view between samples
      let tx0 = Math.floor((x0 - pad) / s / T), tx1 = Math.floor((x1 + pad) / s / T);
      const ty0 = Math.max(0, Math.floor((y0 - pad) / s / T)), ty1 = Math.min(nty - 1, Math.floor((y1 + pad) / s / T));
      let nx;
      if (per) { nx = Math.min(tx1 - tx0 + 1, ntx); tx0 = mod(tx0, ntx); if (nx === ntx) tx0 = 0; }
      else { tx0 = Math.max(0, tx0); tx1 = Math.min(ntx - 1, tx1); nx = tx1 - tx0 + 1; }
      const ny = ty1 - ty0 + 1;
      if (nx <= DETAIL_TILES && ny <= DETAIL_TILES && nx > 0 && ny > 0) {
        return { z, tx0, ty0, nx, ny, ntx, wrap: !!per, period: per ? per / s : 0 };
      }
    }
    return null;
  }

  _scheduleDetail() {
    clearTimeout(this._detailTimer);
    this._detailTimer = setTimeout(() => this._updateDetail(), 120);
  }

  async _updateDetail() {
    const L = this.layers[0];
    if (!L || !L.coarseReady) return;  // detail loads alongside the base level once something shows
    const plan = this._detailPlan(L);
    if (!plan) {
      this.detail = null;
      if (this.sharpMs === null && L.complete) this.sharpMs = performance.now();
      this._changed(false);
      return;
    }
    const cur = this.detail;
    const same = cur && cur.z === plan.z && cur.tx0 === plan.tx0 && cur.ty0 === plan.ty0 &&
      plan.nx <= cur.nx && plan.ny <= cur.ny;
    if (same) return;
    const gen = ++this.detailGen, gl = this.gl, T = L.grid.tile;
    if (this.detailTex) gl.deleteTexture(this.detailTex);
    this.detailTex = this._texture(DETAIL_TILES * T, DETAIL_TILES * T, false, false);
    this.detail = plan;
    const jobs = [];
    for (let j = 0; j < plan.ny; j++) for (let i = 0; i < plan.nx; i++) jobs.push([i, j]);
    const ci = 0.5 * (plan.nx - 1), cj = 0.5 * (plan.ny - 1);
    jobs.sort((a, b) => Math.hypot(a[0] - ci, a[1] - cj) - Math.hypot(b[0] - ci, b[1] - cj));
    this.detailPending = jobs.length;
    await this._pool(jobs, 6, async ([i, j]) => {
      if (gen !== this.detailGen) return;
      const tx = plan.wrap ? mod(plan.tx0 + i, plan.ntx) : plan.tx0 + i;
      const bmp = await this._fetchTile(L, plan.z, tx, plan.ty0 + j);
      if (gen !== this.detailGen) { bmp.close(); return; }
      gl.bindTexture(gl.TEXTURE_2D, this.detailTex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, i * T, j * T, gl.RGBA, gl.UNSIGNED_BYTE, bmp);
      bmp.close();
      this.detailPending--;
      this._changed(false);
    });
    if (gen === this.detailGen && this.sharpMs === null) this.sharpMs = performance.now();
    if (gen === this.detailGen && !L.complete) this._scheduleDetail();  // re-plan once the base is in
  }

  // ---------------------------------------------------------------- drawing
  _changed(viewChanged = true) {
    if (viewChanged) { this.onChange({ ...this.view }); this._scheduleDetail(); }
    if (!this._dirty) { this._dirty = true; requestAnimationFrame(() => this._draw()); }
  }

  _resize() {
    const dpr = 1;  // one canvas pixel per CSS pixel: what the view parameters describe
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr)), h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (w !== this.canvas.width || h !== this.canvas.height) { this.canvas.width = w; this.canvas.height = h; }
    this._changed(false);
    this._scheduleDetail();
  }

  _draw() {
    this._dirty = false;
    const gl = this.gl, L = this.layers[0], loc = this.loc, v = this.view;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    if (!L || !L.coarseReady) { gl.clearColor(0, 0, 0, 1); gl.clear(gl.COLOR_BUFFER_BIT); return; }
    gl.useProgram(this.prog);
    gl.uniform2f(loc.uSize, this.canvas.width, this.canvas.height);
    gl.uniform1i(loc.uMode, MODE_ID[v.mode]);
    gl.uniform1f(loc.uF, v.mode === "flat" ? 1 : this._focal());
    gl.uniform1f(loc.uYaw, v.yaw * D2R);
    gl.uniform1f(loc.uPitch, v.pitch * D2R);
    gl.uniform3f(loc.uFlat, v.x, v.y, v.zoom);
    gl.uniform1f(loc.uTile, L.grid.tile);
    const bind = (layer, unit, sampler, gridU, fullU, sizeU) => {
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, layer ? layer.tex : this.empty);
      gl.uniform1i(loc[sampler], unit);
      if (!layer) return;
      gl.uniform4fv(loc[gridU], layer.gridVec());
      gl.uniform3f(loc[fullU], layer.grid.width, layer.grid.height, layer.reduction(layer.baseLevel));
      gl.uniform2f(loc[sizeU], layer.baseSize[0], layer.baseSize[1]);
    };
    bind(L, 0, "uBaseA", "uGridA", "uFullA", "uBaseSizeA");
    const B = this.layers[1] && v.mode !== "flat" ? this.layers[1] : null;
    bind(B, 2, "uBaseB", "uGridB", "uFullB", "uBaseSizeB");
    gl.uniform1i(loc.uStereo, B ? 1 : 0);
    const fld = this.field;
    gl.uniform1i(loc.uField, fld ? 1 : 0);
    gl.uniform4f(loc.uFieldWin, fld ? fld.lo : 0, fld ? fld.hi : 1, fld ? fld.min : 0, fld ? fld.max : 1);
    gl.activeTexture(gl.TEXTURE3);
    gl.bindTexture(gl.TEXTURE_2D, fld && this.cmapTex ? this.cmapTex : this.empty);
    gl.uniform1i(loc.uCmap, 3);
    const d = this.detail && this.detailTex ? this.detail : null;
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, d ? this.detailTex : this.empty);
    gl.uniform1i(loc.uDetail, 1);
    gl.uniform4f(loc.uDet, d ? d.tx0 : 0, d ? d.ty0 : 0, d ? L.reduction(d.z) : 1, d ? 1 : 0);
    gl.uniform3f(loc.uDetWrap, d ? d.period : 0, d && d.wrap ? d.ntx : 0, DETAIL_TILES * L.grid.tile);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    this.frames++;
    if (this.firstFrameMs === null) this.firstFrameMs = performance.now();
  }

  _clampView() {
    const v = this.view, L = this.layers[0];
    if (v.mode !== "flat") {
      const [lo, hi] = FOV_LIMITS[v.mode];
      v.fov = Math.min(hi, Math.max(lo, v.fov));
      v.pitch = Math.min(90, Math.max(-90, v.pitch));
      if (v.mode === "architectural") v.pitch = Math.min(75, Math.max(-75, v.pitch));
      v.yaw = mod(v.yaw + 180, 360) - 180;
    } else if (L) {
      v.zoom = Math.min(16, Math.max(1e-3, v.zoom));
      v.x = Math.min(L.grid.width, Math.max(0, v.x)); v.y = Math.min(L.grid.height, Math.max(0, v.y));
    }
  }

  // ---------------------------------------------------------------- input
  _bindInput() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY }; c.setPointerCapture(e.pointerId); });
    c.addEventListener("pointerup", () => { drag = null; });
    c.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag = { x: e.clientX, y: e.clientY };
      this._pan(dx, dy);
    });
    c.addEventListener("wheel", (e) => { e.preventDefault(); this._zoom(Math.exp(e.deltaY * 0.001)); }, { passive: false });
    c.tabIndex = 0;
    c.addEventListener("keydown", (e) => {
      const k = e.key, step = 40;
      if (k === "ArrowLeft") this._pan(step, 0);
      else if (k === "ArrowRight") this._pan(-step, 0);
      else if (k === "ArrowUp") this._pan(0, step);
      else if (k === "ArrowDown") this._pan(0, -step);
      else if (k === "+" || k === "=") this._zoom(1 / 1.2);
      else if (k === "-" || k === "_") this._zoom(1.2);
      else if (k >= "1" && k <= "7" && (this.layers[0] && this.layers[0].pano || k === "7")) {
        const mode = MODES[Number(k) - 1];
        this.setView({ mode, fov: DEFAULT_FOV[mode] || this.view.fov });
      } else return;
      e.preventDefault();
    });
  }

  _pan(dx, dy) {
    const v = this.view;
    if (v.mode === "flat") { this.setView({ x: v.x - dx / v.zoom, y: v.y - dy / v.zoom }); return; }
    const degPerPx = 1 / this._focal() / D2R;
    const sign = v.mode === "littleplanet" ? -1 : 1;
    this.setView({ yaw: v.yaw - sign * dx * degPerPx, pitch: v.pitch + dy * degPerPx });
  }

  _zoom(factor) {
    const v = this.view;
    if (v.mode === "flat") this.setView({ zoom: v.zoom / factor });
    else this.setView({ fov: v.fov * factor });
  }
}

function num(v, dflt) { const n = Number(v); return v === undefined || v === null || v === "" || !isFinite(n) ? dflt : n; }
