// Colour maps and the legend of the false-colour view (range, XYZ, heights; docs/viewer.md).
//
// viridis (van der Walt and Smith's perceptually uniform map, whose lightness rises
// monotonically) as ten stops at t = 0, 1/9, ..., 1 interpolated linearly in sRGB; gray as a
// black-to-white ramp. colormapLut gives the 256 x 1 RGBA table the shader samples.

export const COLORMAPS = {
  viridis: ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"],
  gray: ["#000000", "#ffffff"],
};

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

// Colour of t in [0, 1] (clamped) for colour map `name`: [r, g, b], 0..255.
export function colorAt(name, t) {
  const stops = (COLORMAPS[name] || COLORMAPS.viridis).map(hex);
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
  return stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c)));
}

// The 256-entry RGBA table of colour map `name` (entry k is t = k / 255).
export function colormapLut(name) {
  const lut = new Uint8Array(256 * 4);
  for (let k = 0; k < 256; k++) { lut.set([...colorAt(name, k / 255), 255], 4 * k); }
  return lut;
}

// Short number for a legend label: 4 significant digits, exponent when very large or small.
export function fmtNumber(v) {
  if (!isFinite(v)) return String(v);
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

// Draw the colour bar of `name` into a canvas, left (t = 0) to right (t = 1).
export function drawColorBar(canvas, name) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w; i++) {
    const c = colorAt(name, w > 1 ? i / (w - 1) : 0);
    for (let j = 0; j < h; j++) img.data.set([...c, 255], 4 * (j * w + i));
  }
  ctx.putImageData(img, 0, 0);
}
