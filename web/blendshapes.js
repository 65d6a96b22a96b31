// Gioconda blendshape viewer: a live session with outputs ["video", "blendshapes"] (or
// blendshapes alone); each frame's ARKit values arrive on the "control" data channel and drive
// a simple three.js head whose meshes carry ARKit-named morph targets, as a rigged 3D avatar
// would. Values are applied when the matching audio plays: at arrival plus the receiver's
// jitter-buffer delay (getStats). Message format: docs/blendshapes.md.
import * as THREE from "./vendor/three.module.min.js";

const $ = (id) => document.getElementById(id);
const SHOWN = ["jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft",
  "mouthFrownLeft", "browInnerUp", "browDownLeft", "eyeBlinkLeft", "eyeBlinkRight",
  "eyeWideLeft", "cheekSquintLeft", "headYaw_deg", "headPitch_deg", "gazeX"];

const state = { pc: null, channel: null, columns: null, queue: [], playoutDelayMs: 80, statsTimer: null };
// What a test (or a curious user in the console) can read.
// paused: hold the head as it is (values keep queueing) to look at one moment.
window.gioconda = { frames: 0, applied: 0, last: null, maxJawOpen: 0, blinks: 0, influence: null, paused: false };

// ---------------------------------------------------------------- the head
const SKIN = 0xe8b89a;

function morphMesh(geometry, material, targets) {
  // targets: {ARKit name: (x, y, z, vertexIndex) => [dx, dy, dz]}
  const base = geometry.attributes.position;
  geometry.morphAttributes.position = [];
  const names = Object.keys(targets);
  for (const name of names) {
    const moved = new Float32Array(base.count * 3);
    for (let i = 0; i < base.count; i++) {
      const [dx, dy, dz] = targets[name](base.getX(i), base.getY(i), base.getZ(i), i);
      moved[3 * i] = dx; moved[3 * i + 1] = dy; moved[3 * i + 2] = dz;
    }
    geometry.morphAttributes.position.push(new THREE.Float32BufferAttribute(moved, 3));
  }
  geometry.morphTargetsRelative = true;
  const mesh = new THREE.Mesh(geometry, material);
  mesh.updateMorphTargets();
  mesh.morphTargetDictionary = Object.fromEntries(names.map((n, i) => [n, i]));
  mesh.morphTargetInfluences = names.map(() => 0);
  return mesh;
}

const smooth = (a, b, x) => { const t = Math.min(1, Math.max(0, (x - a) / (b - a))); return t * t * (3 - 2 * t); };

function skull() {
  const geometry = new THREE.SphereGeometry(1, 64, 48);
  geometry.scale(0.82, 1.05, 0.9);
  const chin = (x, y, z) => smooth(-0.25, -0.75, y) * smooth(0.0, 0.6, z);
  return morphMesh(geometry, new THREE.MeshStandardMaterial({ color: SKIN, roughness: 0.8 }), {
    jawOpen: (x, y, z) => [0, -0.22 * chin(x, y, z), -0.03 * chin(x, y, z)],
    mouthClose: (x, y, z) => [0, 0.04 * chin(x, y, z), 0],
  });
}

// The mouth is a lip tube around an ellipse and a dark cavity inside it; both deform with the
// same functions of the angle t around the mouth (t = 0 at the subject's left corner, image right).
const LIP_A = 0.25, LIP_B = 0.028, LIP_TUBE = 0.036;
const side = (t, sign) => Math.pow(Math.max(0, sign * Math.cos(t)), 3);
const up = (t) => Math.max(0, Math.sin(t));
const down = (t) => Math.max(0, -Math.sin(t));
const MOUTH_SHAPES = {
  jawOpen: (t) => [0, -0.2 * Math.pow(down(t), 0.7) + 0.015 * up(t), 0],
  mouthClose: (t) => [0, 0.14 * Math.pow(down(t), 0.7), 0],
  mouthFunnel: (t, x, y) => [-0.35 * x, 0.06 * Math.sin(t), 0.08],
  mouthPucker: (t, x, y) => [-0.45 * x, -0.4 * y, 0.1],
  mouthSmileLeft: (t) => [0.05 * side(t, 1), 0.09 * side(t, 1), -0.02 * side(t, 1)],
  mouthSmileRight: (t) => [-0.05 * side(t, -1), 0.09 * side(t, -1), -0.02 * side(t, -1)],
  mouthFrownLeft: (t) => [0, -0.08 * side(t, 1), 0],
  mouthFrownRight: (t) => [0, -0.08 * side(t, -1), 0],
  mouthStretchLeft: (t) => [0.07 * side(t, 1), -0.02 * side(t, 1), 0],
  mouthStretchRight: (t) => [-0.07 * side(t, -1), -0.02 * side(t, -1), 0],
  mouthUpperUpLeft: (t) => [0, 0.06 * up(t) * Math.max(0, Math.cos(t) + 0.4), 0],
  mouthUpperUpRight: (t) => [0, 0.06 * up(t) * Math.max(0, -Math.cos(t) + 0.4), 0],
  mouthLowerDownLeft: (t) => [0, -0.07 * down(t) * Math.max(0, Math.cos(t) + 0.4), 0],
  mouthLowerDownRight: (t) => [0, -0.07 * down(t) * Math.max(0, -Math.cos(t) + 0.4), 0],
  mouthPressLeft: (t, x, y) => [0, -0.5 * y * Math.max(0, Math.cos(t) + 0.4), 0],
  mouthPressRight: (t, x, y) => [0, -0.5 * y * Math.max(0, -Math.cos(t) + 0.4), 0],
};

function mouthTargets(angleOf) {
  return Object.fromEntries(Object.entries(MOUTH_SHAPES).map(([name, shape]) =>
    [name, (x, y, z, i) => shape(angleOf[i], x, y)]));
}

function lips() {
  const segments = 72, around = 10, positions = [], angleOf = [], index = [];
  for (let i = 0; i <= segments; i++) {
    const t = (i / segments) * 2 * Math.PI;
    let nx = Math.cos(t) / LIP_A, ny = Math.sin(t) / LIP_B;
    const norm = Math.hypot(nx, ny); nx /= norm; ny /= norm;
    for (let j = 0; j <= around; j++) {
      const p = (j / around) * 2 * Math.PI;
      const r = LIP_TUBE * Math.cos(p);
      positions.push(LIP_A * Math.cos(t) + nx * r, LIP_B * Math.sin(t) + ny * r, 1.2 * LIP_TUBE * Math.sin(p));
      angleOf.push(t);
    }
  }
  for (let i = 0; i < segments; i++) {
    for (let j = 0; j < around; j++) {
      const a = i * (around + 1) + j, b = a + around + 1;
      index.push(a, b, a + 1, b, b + 1, a + 1);
    }
  }
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.Float32BufferAttribute(positions, 3));
  geometry.setIndex(index);
  geometry.computeVertexNormals();
  const material = new THREE.MeshStandardMaterial({ color: 0xb5505a, roughness: 0.5 });
  return morphMesh(geometry, material, mouthTargets(angleOf));
}

function cavity() {
  const segments = 72, positions = [0, 0, -0.02], angleOf = [NaN], index = [];
  for (let i = 0; i < segments; i++) {
    const t = (i / segments) * 2 * Math.PI;
    positions.push(0.96 * LIP_A * Math.cos(t), LIP_B * Math.sin(t), -0.01);
    angleOf.push(t);
    index.push(0, 1 + i, 1 + ((i + 1) % segments));
  }
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.Float32BufferAttribute(positions, 3));
  geometry.setIndex(index);
  geometry.computeVertexNormals();
  // The centre moves halfway between the top and bottom of the rim.
  const targets = Object.fromEntries(Object.entries(MOUTH_SHAPES).map(([name, shape]) => [name,
    (x, y, z, i) => {
      if (i > 0) return shape(angleOf[i], x, y);
      const top = shape(Math.PI / 2, 0, LIP_B), bottom = shape(-Math.PI / 2, 0, -LIP_B);
      return top.map((v, k) => 0.5 * (v + bottom[k]));
    }]));
  const material = new THREE.MeshBasicMaterial({ color: 0x2a0a0e, side: THREE.DoubleSide });
  return morphMesh(geometry, material, targets);
}

function eye(sign) {
  const suffix = sign > 0 ? "Left" : "Right"; // the subject's left eye is on the image right
  const group = new THREE.Group();
  group.position.set(sign * 0.3, 0.2, 0.7);
  const ball = new THREE.Group();
  ball.add(new THREE.Mesh(new THREE.SphereGeometry(0.13, 32, 16),
    new THREE.MeshStandardMaterial({ color: 0xf4f4f0, roughness: 0.3 })));
  const iris = new THREE.Mesh(new THREE.CircleGeometry(0.06, 32), new THREE.MeshBasicMaterial({ color: 0x3a5a80 }));
  iris.position.z = 0.128;
  const pupil = new THREE.Mesh(new THREE.CircleGeometry(0.028, 24), new THREE.MeshBasicMaterial({ color: 0x050505 }));
  pupil.position.z = 0.1295;
  ball.add(iris, pupil);
  group.add(ball);
  // Eyelids: sphere caps whose morph targets are the same caps reaching further down (blink)
  // or less far (wide); same vertex count, so the blend is a lid sliding over the eye.
  const cap = (start, length) => new THREE.SphereGeometry(0.142, 32, 12, 0, 2 * Math.PI, start, length);
  const skin = new THREE.MeshStandardMaterial({ color: SKIN, roughness: 0.8, side: THREE.DoubleSide });
  const upper = cap(0, 1.2), blink = cap(0, 2.75), wide = cap(0, 0.85);
  const upperLid = morphMesh(upper, skin, {
    [`eyeBlink${suffix}`]: (x, y, z, i) => delta(blink, upper, i),
    [`eyeWide${suffix}`]: (x, y, z, i) => delta(wide, upper, i),
  });
  const lower = cap(2.35, Math.PI - 2.35), squint = cap(2.0, Math.PI - 2.0);
  const lowerLid = morphMesh(lower, skin, { [`cheekSquint${suffix}`]: (x, y, z, i) => delta(squint, lower, i) });
  group.add(upperLid, lowerLid);
  return { group, ball, meshes: [upperLid, lowerLid] };
}

function delta(target, base, i) {
  const a = target.attributes.position, b = base.attributes.position;
  return [a.getX(i) - b.getX(i), a.getY(i) - b.getY(i), a.getZ(i) - b.getZ(i)];
}

function brow(sign) {
  const suffix = sign > 0 ? "Left" : "Right";
  const geometry = new THREE.BoxGeometry(0.28, 0.04, 0.05, 12, 1, 1);
  const outer = (x) => 0.5 + (sign * x) / 0.28; // 0 at the inner end, 1 at the outer end
  const mesh = morphMesh(geometry, new THREE.MeshStandardMaterial({ color: 0x4a3020 }), {
    browInnerUp: (x) => [0, 0.1 * (1 - outer(x)), 0],
    [`browOuterUp${suffix}`]: (x) => [0, 0.09 * outer(x), 0],
    [`browDown${suffix}`]: (x) => [-sign * 0.02, -0.05 - 0.04 * (1 - outer(x)), 0.01],
  });
  mesh.position.set(sign * 0.3, 0.45, 0.78);
  mesh.rotation.z = sign * 0.08;
  return mesh;
}

function buildHead(canvas) {
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setSize(canvas.width, canvas.height, false);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x1d2330);
  const camera = new THREE.PerspectiveCamera(30, 1, 0.1, 20);
  camera.position.set(0, -0.1, 4.6);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x445566, 1.6));
  const light = new THREE.DirectionalLight(0xffffff, 1.6);
  light.position.set(1.5, 2, 3);
  scene.add(light);
  const neck = new THREE.Mesh(new THREE.CylinderGeometry(0.38, 0.5, 1.2, 32),
    new THREE.MeshStandardMaterial({ color: SKIN, roughness: 0.8 }));
  neck.position.y = -1.35;
  scene.add(neck);
  const head = new THREE.Group();
  const mouth = new THREE.Group();
  mouth.position.set(0, -0.45, 0.8);
  const lipMesh = lips();
  mouth.add(cavity(), lipMesh);
  const eyes = [eye(1), eye(-1)];
  const nose = new THREE.Mesh(new THREE.ConeGeometry(0.08, 0.28, 20), new THREE.MeshStandardMaterial({ color: 0xdca88a }));
  nose.rotation.x = 2.1; // the tip points forwards and down
  nose.position.set(0, -0.02, 0.9);
  const hair = new THREE.Mesh(new THREE.SphereGeometry(1.04, 48, 24, 0, 2 * Math.PI, 0, 1.25),
    new THREE.MeshStandardMaterial({ color: 0x5a3a22, roughness: 0.9 }));
  hair.scale.set(0.84, 1.05, 0.95);
  hair.rotation.x = -0.35; // further down at the back than over the forehead
  head.add(skull(), hair, mouth, nose, brow(1), brow(-1), ...eyes.map((e) => e.group));
  scene.add(head);
  const morphMeshes = [];
  head.traverse((o) => { if (o.morphTargetDictionary) morphMeshes.push(o); });
  return { renderer, scene, camera, head, eyes, morphMeshes, lipMesh };
}

const view = buildHead($("head"));
window.gioconda.influence = (name) => {
  for (const mesh of view.morphMeshes) {
    const i = mesh.morphTargetDictionary[name];
    if (i !== undefined) return mesh.morphTargetInfluences[i];
  }
  return null;
};

function applyValues(values) {
  const col = state.columns;
  const value = (name) => values[col.get(name)];
  for (const mesh of view.morphMeshes) {
    for (const [name, i] of Object.entries(mesh.morphTargetDictionary)) mesh.morphTargetInfluences[i] = value(name);
  }
  const deg = Math.PI / 180;
  // Motion-space conventions (docs/blendshapes.md) into three.js (y up, camera on +z):
  // pitch + nods down (+x rotation), yaw + turns to image right (+y), roll + is clockwise (-z).
  view.head.rotation.set(value("headPitch_deg") * deg, value("headYaw_deg") * deg, -value("headRoll_deg") * deg, "YXZ");
  view.head.position.set(2.2 * value("headX"), -2.2 * value("headY"), 0);
  view.head.scale.setScalar(Math.exp(value("headScale_log")));
  for (const e of view.eyes) e.ball.rotation.set(0.35 * value("gazeY"), 0.45 * value("gazeX"), 0);
}

// ---------------------------------------------------------------- messages, paced to the audio
function onMessage(event) {
  const message = JSON.parse(event.data);
  if (message.type === "blendshapes_layout") {
    state.columns = new Map(message.columns.map((name, i) => [name, i]));
    buildBars(message.columns);
  } else if (message.type === "blendshapes" && state.columns) {
    state.queue.push({ due: performance.now() + state.playoutDelayMs, message });
    window.gioconda.frames += 1;
  } else if (message.type === "error") {
    setState(`${message.error}: ${message.detail}`);
  }
}

let lastBlink = 0;
function frame() {
  const now = performance.now();
  let latest = null;
  while (!window.gioconda.paused && state.queue.length && state.queue[0].due <= now) {
    latest = state.queue.shift().message;
  }
  if (latest) {
    applyValues(latest.values);
    const g = window.gioconda;
    g.applied += 1;
    g.last = latest;
    const jaw = latest.values[state.columns.get("jawOpen")];
    g.maxJawOpen = Math.max(g.maxJawOpen, jaw);
    const blink = latest.values[state.columns.get("eyeBlinkLeft")];
    if (blink > 0.5 && lastBlink <= 0.5) g.blinks += 1;
    lastBlink = blink;
    updateBars(latest);
  }
  if (latest || !rendered) view.renderer.render(view.scene, view.camera); // only on change
  rendered = true;
  requestAnimationFrame(frame);
}
let rendered = false;
requestAnimationFrame(frame);

function buildBars(columns) {
  const box = $("bars");
  box.textContent = "";
  for (const name of SHOWN.filter((n) => columns.includes(n))) {
    const label = document.createElement("span");
    label.textContent = name;
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.append(document.createElement("i"));
    const number = document.createElement("span");
    number.className = "readout";
    number.dataset.name = name;
    bar.dataset.name = name;
    box.append(label, bar, number);
  }
}

function updateBars(message) {
  for (const bar of document.querySelectorAll(".bar")) {
    const v = message.values[state.columns.get(bar.dataset.name)];
    const scale = bar.dataset.name.endsWith("_deg") ? 30 : 1;
    bar.firstChild.style.width = `${Math.min(100, (100 * Math.abs(v)) / scale)}%`;
  }
  for (const number of document.querySelectorAll(".readout[data-name]")) {
    number.textContent = message.values[state.columns.get(number.dataset.name)].toFixed(2);
  }
  $("readout").textContent = `frame ${message.frame}, t = ${message.time_s.toFixed(2)} s` +
    (message.speaking ? `, segment ${message.segment_id} at ${message.segment_s.toFixed(2)} s` : ", idle") +
    `, shown ${Math.round(state.playoutDelayMs)} ms after arrival`;
}

// ---------------------------------------------------------------- the call
function setState(text) { $("call-state").textContent = text; }

async function playoutDelay() {
  // The receiver holds media this long before playing it (the video's jitter buffer over the
  // last second, else the audio's); the values wait as long.
  if (!state.pc) return;
  const stats = await state.pc.getStats();
  const byKind = {};
  stats.forEach((s) => { if (s.type === "inbound-rtp") byKind[s.kind] = s; });
  const s = byKind.video || byKind.audio;
  if (!s || !s.jitterBufferEmittedCount) return;
  const previous = state.lastJitter || { delay: 0, count: 0 };
  const emitted = s.jitterBufferEmittedCount - previous.count;
  if (emitted > 0) state.playoutDelayMs = (1000 * (s.jitterBufferDelay - previous.delay)) / emitted;
  state.lastJitter = { delay: s.jitterBufferDelay, count: s.jitterBufferEmittedCount };
}

function waitForIce(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
}

async function start() {
  $("start").disabled = true;
  try {
    const pc = new RTCPeerConnection({ iceServers: [] });
    state.pc = pc;
    const remote = new MediaStream();
    $("video").srcObject = remote;
    pc.addEventListener("track", (event) => remote.addTrack(event.track));
    pc.addEventListener("connectionstatechange", () => setState(pc.connectionState));
    const withVideo = $("with-video").checked;
    if (withVideo) pc.addTransceiver("video", { direction: "recvonly" });
    const audio = pc.addTransceiver("audio", { direction: "sendrecv" });
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true }).catch(() => null);
    if (mic) await audio.sender.replaceTrack(mic.getAudioTracks()[0]);
    state.channel = pc.createDataChannel("control");
    state.channel.addEventListener("message", onMessage);
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc);
    const outputs = withVideo ? ["video", "blendshapes"] : ["blendshapes"];
    // A server with an API key wants a client token for new calls: the deployment's login hands
    // it to the page as #token=... (README "Tokens"); session routes take the session's token.
    const clientToken = new URLSearchParams(location.hash.slice(1)).get("token");
    const response = await fetch("/v1/sessions", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        ...(clientToken ? { Authorization: `Bearer ${clientToken}` } : {}),
      },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer", options: { outputs } }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.detail || `HTTP ${response.status}`);
    state.sessionId = answer.session_id;
    state.sessionToken = answer.session_token;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    state.statsTimer = setInterval(playoutDelay, 1000);
    $("stop").disabled = false;
    setState(`session ${answer.session_id}: ${outputs.join(" + ")}`);
  } catch (error) {
    setState(error.message);
    await stop();
  }
}

async function stop() {
  clearInterval(state.statsTimer);
  if (state.sessionId) {
    const headers = { Authorization: `Bearer ${state.sessionToken}` };
    await fetch(`/v1/sessions/${state.sessionId}`, { method: "DELETE", headers }).catch(() => {});
  }
  if (state.pc) state.pc.close();
  Object.assign(state, { pc: null, channel: null, sessionId: null, sessionToken: null, queue: [], lastJitter: null });
  $("start").disabled = false;
  $("stop").disabled = true;
}

$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
