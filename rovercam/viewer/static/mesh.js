// The 3-D view of stereo and terrain meshes: a glTF binary (GLB) reader and a WebGL2 renderer
// with orbit, pan and zoom; no libraries (docs/viewer.md).
//
// GLB (glTF 2.0, Khronos): a 12-byte header (magic "glTF", version 2, length), then chunks of
// (length, type, data): JSON first, then BIN. Accessors name a buffer view slice, a component
// type and a count; this reader takes every triangle primitive of the default scene's nodes
// (node matrices or translation/rotation/scale applied) with its POSITION, COLOR_0 (float or
// normalised integers, RGB or RGBA; gray when absent) and indices. glTF is +y up, metres.
// Lighting: flat shading from screen-space derivatives of the view-space position, a light from
// the viewer's upper right plus ambient, both faces lit.

const MAGIC = 0x46546c67, CHUNK_JSON = 0x4e4f534a, CHUNK_BIN = 0x004e4942;
const COMPONENTS = { 5120: [1, "getInt8", 127], 5121: [1, "getUint8", 255], 5122: [2, "getInt16", 32767],
  5123: [2, "getUint16", 65535], 5125: [4, "getUint32", 4294967295], 5126: [4, "getFloat32", 1] };
const WIDTH = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4 };

function readAccessor(gltf, bin, index) {
  const a = gltf.accessors && gltf.accessors[index];
  if (!a || a.bufferView === undefined) throw new Error(`GLB: accessor ${index} missing or sparse`);
  const bv = gltf.bufferViews[a.bufferView], comp = COMPONENTS[a.componentType], n = WIDTH[a.type];
  if (!bv || !comp || !n || (bv.buffer || 0) !== 0) throw new Error(`GLB: accessor ${index} unsupported`);
  const [size, getter, scale] = comp, stride = bv.byteStride || size * n;
  const start = (bv.byteOffset || 0) + (a.byteOffset || 0), count = a.count;
  const end = count ? start + stride * (count - 1) + size * n : start;
  if (end > (bv.byteOffset || 0) + bv.byteLength || end > bin.byteLength) throw new Error(`GLB: accessor ${index} overruns its buffer`);
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength), out = new Float32Array(count * n);
  const div = a.normalized ? scale : 1;
  for (let i = 0; i < count; i++) for (let k = 0; k < n; k++) out[i * n + k] = dv[getter](start + i * stride + k * size, true) / div;
  return { data: out, width: n, count };
}

const mul4 = (a, b) => {  // column-major 4 x 4 product a b
  const o = new Float32Array(16);
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k];
    o[c * 4 + r] = s;
  }
  return o;
};
const IDENTITY = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);

function nodeMatrix(node) {
  if (node.matrix) return new Float32Array(node.matrix);
  const [tx, ty, tz] = node.translation || [0, 0, 0], [x, y, z, w] = node.rotation || [0, 0, 0, 1];
  const [sx, sy, sz] = node.scale || [1, 1, 1];
  return new Float32Array([
    (1 - 2 * (y * y + z * z)) * sx, 2 * (x * y + z * w) * sx, 2 * (x * z - y * w) * sx, 0,
    2 * (x * y - z * w) * sy, (1 - 2 * (x * x + z * z)) * sy, 2 * (y * z + x * w) * sy, 0,
    2 * (x * z + y * w) * sz, 2 * (y * z - x * w) * sz, (1 - 2 * (x * x + y * y)) * sz, 0,
    tx, ty, tz, 1]);
}

// Triangles of a GLB file: { positions (3N), colors (3N, 0..1), indices (3M, Uint32Array) }.
export function parseGlb(buffer) {
  const dv = new DataView(buffer);
  if (buffer.byteLength < 20 || dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== 2) throw new Error("not a glTF 2.0 binary (GLB) file");
  let off = 12, gltf = null, bin = new Uint8Array(0);
  const end = Math.min(dv.getUint32(8, true), buffer.byteLength);
  while (off + 8 <= end) {
    const len = dv.getUint32(off, true), type = dv.getUint32(off + 4, true);
    if (off + 8 + len > end) throw new Error("GLB: a chunk overruns the file");
    if (type === CHUNK_JSON) gltf = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, off + 8, len)));
    else if (type === CHUNK_BIN) bin = new Uint8Array(buffer, off + 8, len);
    off += 8 + len;
  }
  if (!gltf) throw new Error("GLB: no JSON chunk");
  const pos = [], col = [], idx = [];
  let base = 0;
  const visit = (ni, parent) => {
    const node = gltf.nodes[ni], m = mul4(parent, nodeMatrix(node));
    if (node.mesh !== undefined) {
      for (const prim of gltf.meshes[node.mesh].primitives) {
        if ((prim.mode ?? 4) !== 4 || prim.attributes.POSITION === undefined) continue;
        const p = readAccessor(gltf, bin, prim.attributes.POSITION);
        const c = prim.attributes.COLOR_0 !== undefined ? readAccessor(gltf, bin, prim.attributes.COLOR_0) : null;
        for (let i = 0; i < p.count; i++) {
          const [x, y, z] = [p.data[3 * i], p.data[3 * i + 1], p.data[3 * i + 2]];
          pos.push(m[0] * x + m[4] * y + m[8] * z + m[12], m[1] * x + m[5] * y + m[9] * z + m[13], m[2] * x + m[6] * y + m[10] * z + m[14]);
          if (c) col.push(c.data[i * c.width], c.data[i * c.width + 1], c.data[i * c.width + 2]);
          else col.push(0.75, 0.75, 0.75);
        }
        if (prim.indices !== undefined) {
          const ix = readAccessor(gltf, bin, prim.indices).data;
          for (let i = 0; i < ix.length; i++) {
            if (ix[i] >= p.count) throw new Error("GLB: an index points past the vertices");
            idx.push(base + ix[i]);
          }
        } else for (let i = 0; i < p.count; i++) idx.push(base + i);
        base += p.count;
      }
    }
    for (const child of node.children || []) visit(child, m);
  };
  const scene = gltf.scenes ? gltf.scenes[gltf.scene || 0] : { nodes: (gltf.nodes || []).map((_, i) => i) };
  for (const ni of scene.nodes || []) visit(ni, IDENTITY);
  return { positions: new Float32Array(pos), colors: new Float32Array(col), indices: new Uint32Array(idx) };
}

const VERT = `#version 300 es
in vec3 aPos; in vec3 aCol; uniform mat4 uView, uProj; out vec3 vCol, vPos;
void main() { vec4 p = uView * vec4(aPos, 1.0); vPos = p.xyz; vCol = aCol; gl_Position = uProj * p; }`;
const FRAG = `#version 300 es
precision highp float;
in vec3 vCol, vPos; out vec4 outColor;
void main() {
  vec3 n = normalize(cross(dFdx(vPos), dFdy(vPos)));
  if (n.z < 0.0) n = -n;  // both faces lit
  float diffuse = max(dot(n, normalize(vec3(0.5, 0.7, 0.6))), 0.0);
  outColor = vec4(vCol * (0.3 + 0.7 * diffuse), 1.0);
}`;

function program(gl) {
  const prog = gl.createProgram();
  for (const [type, src] of [[gl.VERTEX_SHADER, VERT], [gl.FRAGMENT_SHADER, FRAG]]) {
    const s = gl.createShader(type);
    gl.shaderSource(s, src); gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    gl.attachShader(prog, s);
  }
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
  return prog;
}

function lookAt(eye, target, up) {
  const sub = (a, b) => a.map((v, i) => v - b[i]), norm = (a) => { const l = Math.hypot(...a) || 1; return a.map((v) => v / l); };
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const f = norm(sub(target, eye)), r = norm(cross(f, up)), u = cross(r, f);
  return { m: new Float32Array([r[0], u[0], -f[0], 0, r[1], u[1], -f[1], 0, r[2], u[2], -f[2], 0, -dot(r, eye), -dot(u, eye), dot(f, eye), 1]), r, u };
}

function perspective(fovy, aspect, near, far) {
  const f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
  return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0]);
}

const D2R = Math.PI / 180, FOVY = 45 * D2R;

export class MeshViewer {
  constructor(canvas, { onChange } = {}) {
    this.canvas = canvas;
    this.onChange = onChange || (() => {});
    const gl = canvas.getContext("webgl2", { antialias: true, preserveDrawingBuffer: true, alpha: false });
    if (!gl) throw new Error("WebGL2 is not available in this browser");
    this.gl = gl;
    this.prog = program(gl);
    this.view = { yaw: 30, pitch: 30, dist: 1 };
    this.target = [0, 0, 0]; this.radius = 1;
    this.mesh = null; this.frames = 0; this._dirty = false;
    this._bindInput();
    new ResizeObserver(() => this._resize()).observe(canvas);
    this._resize();
  }

  async open(url, view = {}) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    const m = parseGlb(await r.arrayBuffer());
    if (!m.indices.length) throw new Error(`${url}: no triangles`);
    const gl = this.gl, lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < m.positions.length; i++) { lo[i % 3] = Math.min(lo[i % 3], m.positions[i]); hi[i % 3] = Math.max(hi[i % 3], m.positions[i]); }
    this.target = lo.map((v, i) => 0.5 * (v + hi[i]));
    this.radius = Math.max(1e-6, 0.5 * Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]));
    const vao = gl.createVertexArray();
    gl.bindVertexArray(vao);
    for (const [name, data] of [["aPos", m.positions], ["aCol", m.colors]]) {
      const buf = gl.createBuffer(), loc = gl.getAttribLocation(this.prog, name);
      gl.bindBuffer(gl.ARRAY_BUFFER, buf); gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
      gl.enableVertexAttribArray(loc); gl.vertexAttribPointer(loc, 3, gl.FLOAT, false, 0, 0);
    }
    const ibuf = gl.createBuffer();
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, ibuf); gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, m.indices, gl.STATIC_DRAW);
    gl.bindVertexArray(null);
    this.mesh = { vao, count: m.indices.length, vertices: m.positions.length / 3, bounds: [lo, hi] };
    const num = (v, d) => (v === undefined || v === null || v === "" || !isFinite(Number(v)) ? d : Number(v));
    this.setView({ yaw: num(view.yaw, 30), pitch: num(view.pitch, 30), dist: num(view.dist, this.radius / Math.sin(FOVY / 2)) });
  }

  setView(partial) {
    Object.assign(this.view, partial);
    this.view.pitch = Math.min(89, Math.max(-89, this.view.pitch));
    this.view.dist = Math.min(1e3 * this.radius, Math.max(1e-3 * this.radius, this.view.dist));
    this.onChange({ ...this.view });
    this._changed();
  }

  status() {
    return { ready: !!this.mesh, frames: this.frames, vertices: this.mesh ? this.mesh.vertices : 0,
      triangles: this.mesh ? this.mesh.count / 3 : 0, bounds: this.mesh ? this.mesh.bounds : null,
      view: { ...this.view }, width: this.canvas.width, height: this.canvas.height };
  }

  _eye() {
    const { yaw, pitch, dist } = this.view, y = yaw * D2R, p = pitch * D2R;
    return [this.target[0] + dist * Math.cos(p) * Math.sin(y), this.target[1] + dist * Math.sin(p), this.target[2] + dist * Math.cos(p) * Math.cos(y)];
  }

  _changed() { if (!this._dirty) { this._dirty = true; requestAnimationFrame(() => this._draw()); } }

  _resize() {
    const w = Math.max(1, this.canvas.clientWidth), h = Math.max(1, this.canvas.clientHeight);
    if (w !== this.canvas.width || h !== this.canvas.height) { this.canvas.width = w; this.canvas.height = h; }
    this._changed();
  }

  _draw() {
    this._dirty = false;
    const gl = this.gl;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0.08, 0.08, 0.1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    if (!this.mesh) return;
    gl.enable(gl.DEPTH_TEST);
    gl.useProgram(this.prog);
    const d = this.view.dist, view = lookAt(this._eye(), this.target, [0, 1, 0]).m;
    const proj = perspective(FOVY, this.canvas.width / this.canvas.height, Math.max(d - 2 * this.radius, d * 1e-3), d + 2 * this.radius);
    gl.uniformMatrix4fv(gl.getUniformLocation(this.prog, "uView"), false, view);
    gl.uniformMatrix4fv(gl.getUniformLocation(this.prog, "uProj"), false, proj);
    gl.bindVertexArray(this.mesh.vao);
    gl.drawElements(gl.TRIANGLES, this.mesh.count, gl.UNSIGNED_INT, 0);
    gl.bindVertexArray(null);
    this.frames++;
  }

  // Drag: orbit (left button) or pan (right button, or shift); wheel or +/-: zoom; arrows: orbit.
  _bindInput() {
    const c = this.canvas;
    let drag = null;
    c.tabIndex = 0;
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    c.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, pan: e.button === 2 || e.shiftKey }; c.setPointerCapture(e.pointerId); });
    c.addEventListener("pointerup", () => { drag = null; });
    c.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag.x = e.clientX; drag.y = e.clientY;
      if (drag.pan) this._pan(dx, dy);
      else this.setView({ yaw: this.view.yaw - 0.4 * dx, pitch: this.view.pitch + 0.4 * dy });
    });
    c.addEventListener("wheel", (e) => { e.preventDefault(); this.setView({ dist: this.view.dist * Math.exp(e.deltaY * 0.001) }); }, { passive: false });
    c.addEventListener("keydown", (e) => {
      const k = e.key, v = this.view;
      if (k === "ArrowLeft") this.setView({ yaw: v.yaw + 10 });
      else if (k === "ArrowRight") this.setView({ yaw: v.yaw - 10 });
      else if (k === "ArrowUp") this.setView({ pitch: v.pitch + 10 });
      else if (k === "ArrowDown") this.setView({ pitch: v.pitch - 10 });
      else if (k === "+" || k === "=") this.setView({ dist: v.dist / 1.2 });
      else if (k === "-" || k === "_") this.setView({ dist: v.dist * 1.2 });
      else return;
      e.preventDefault();
    });
  }

  // Move the orbit centre in the view plane: a drag of the canvas height spans the view's height.
  _pan(dx, dy) {
    const { r, u } = lookAt(this._eye(), this.target, [0, 1, 0]);
    const k = 2 * this.view.dist * Math.tan(FOVY / 2) / this.canvas.height;
    this.target = this.target.map((t, i) => t - k * dx * r[i] + k * dy * u[i]);
    this._changed();
  }
}
