// Gioconda browser client: pick or upload a portrait, call the server over WebRTC, send audio
// (microphone or a file played into the call), drive live controls over the "control" data
// channel, show stats from getStats(), record the call with MediaRecorder. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  avatars: [],
  avatarId: null,
  pc: null,
  channel: null,
  sessionId: null,
  sessionToken: null, // scoped to this call: the page never holds the server's API key
  tokenTimer: null,
  audioContext: null,
  fileElement: null,
  fileDestination: null,
  micStream: null,
  audioSender: null,
  remoteStream: null,
  recorder: null,
  chunks: [],
  statsTimer: null,
  pingTimer: null,
  lastStats: null,
  serverLatencyMs: null,
};

// ---------------------------------------------------------------- API
// Credentials: session routes take the call's session token (from POST /v1/sessions). A server
// with an API key also wants a client token for portraits and new calls: the deployment's own
// login hands it to the page as #token=... (README "Tokens"), or it is pasted under Advanced.
function clientToken() {
  return $("client-token").value.trim();
}

function apiHeaders(path, extra = {}) {
  const token = path.startsWith("/v1/sessions/") ? state.sessionToken : clientToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function api(method, path, body, isForm = false) {
  const init = { method, headers: apiHeaders(path, isForm || !body ? {} : { "Content-Type": "application/json" }) };
  if (body) init.body = isForm ? body : JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.detail || `${method} ${path}: HTTP ${response.status}`);
    error.reason = data.error;
    throw error;
  }
  return data;
}

// ---------------------------------------------------------------- server status
async function pollReady() {
  const pill = $("server-status");
  try {
    const response = await fetch("/readyz");
    if (response.ok) {
      pill.textContent = "server ready";
      pill.className = "pill ok";
      return;
    }
    const data = await response.json().catch(() => ({}));
    pill.textContent = data.error === "server_full" ? "server full" : "warming up…";
    pill.className = "pill";
  } catch {
    pill.textContent = "server unreachable";
    pill.className = "pill bad";
  }
  setTimeout(pollReady, 1000);
}

// ---------------------------------------------------------------- portraits
async function loadAvatars(selectId) {
  try {
    const data = await api("GET", "/v1/avatars");
    state.avatars = data.avatars;
    renderAvatars(selectId || state.avatarId || data.default);
  } catch (error) {
    $("avatars").textContent = `Could not list portraits: ${error.message}`;
  }
}

async function showPreview(img, avatar) {
  // <img> cannot send headers: with a token, fetch the picture and show it from a blob URL
  // (a credential in an image URL would end up in logs and the browser history).
  if (!clientToken()) {
    img.src = avatar.preview_url;
    return;
  }
  try {
    const response = await fetch(avatar.preview_url, { headers: apiHeaders(avatar.preview_url) });
    if (response.ok) img.src = URL.createObjectURL(await response.blob());
  } catch {
    // the tile keeps its alt text
  }
}

function renderAvatars(selectId) {
  const grid = $("avatars");
  grid.replaceChildren();
  for (const avatar of state.avatars) {
    const tile = document.createElement("button");
    tile.className = "avatar";
    tile.title = avatar.name;
    tile.dataset.id = avatar.id;
    const img = document.createElement("img");
    showPreview(img, avatar);
    img.alt = avatar.name;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = avatar.name;
    tile.append(img, name);
    if (!avatar.builtin) {
      const del = document.createElement("span");
      del.className = "delete button";
      del.textContent = "×";
      del.title = "delete this portrait";
      del.addEventListener("click", (event) => { event.stopPropagation(); deleteAvatar(avatar.id); });
      tile.append(del);
    }
    tile.addEventListener("click", () => selectAvatar(avatar.id));
    grid.append(tile);
  }
  selectAvatar(selectId);
}

function selectAvatar(id) {
  const avatar = state.avatars.find((a) => a.id === id) || state.avatars[0];
  if (!avatar) return;
  state.avatarId = avatar.id;
  for (const tile of document.querySelectorAll(".avatar")) {
    tile.classList.toggle("selected", tile.dataset.id === avatar.id);
  }
  showPreview($("stage-preview"), avatar);
}

async function deleteAvatar(id) {
  if (!confirm("Delete this portrait?")) return;
  try {
    await api("DELETE", `/v1/avatars/${id}`);
    await loadAvatars(state.avatarId === id ? null : state.avatarId);
  } catch (error) {
    alert(error.message);
  }
}

async function uploadAvatar(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  const status = $("upload-status");
  if (!file) return;
  if (!$("upload-consent").checked) {
    status.textContent = "Please confirm that you may use this likeness.";
    status.className = "small error";
    return;
  }
  const form = new FormData();
  form.append("image", file);
  form.append("name", $("upload-name").value || file.name.replace(/\.[^.]+$/, ""));
  form.append("consent", "The uploader confirmed in the web client that they have the right to use this likeness for an AI-generated avatar.");
  status.textContent = "Preparing the portrait (about a second)…";
  status.className = "small muted";
  $("upload-button").disabled = true;
  try {
    const record = await api("POST", "/v1/avatars", form, true);
    status.textContent = `Ready: ${record.name}`;
    $("upload-form").reset();
    await loadAvatars(record.id);
  } catch (error) {
    status.textContent = error.message;
    status.className = "small error";
  } finally {
    $("upload-button").disabled = false;
  }
}

// ---------------------------------------------------------------- audio sources
function audioContext() {
  if (!state.audioContext) state.audioContext = new AudioContext();
  return state.audioContext;
}

function fileTrack() {
  // A file played through a MediaStreamDestination: the call carries it; the page does not
  // play it locally (the avatar's audio comes back in sync with its lips).
  const context = audioContext();
  if (!state.fileDestination) {
    state.fileElement = new Audio();
    state.fileElement.crossOrigin = "anonymous";
    const source = context.createMediaElementSource(state.fileElement);
    state.fileDestination = context.createMediaStreamDestination();
    source.connect(state.fileDestination);
    state.fileElement.addEventListener("ended", () => { $("play-file").textContent = "Play into the call"; });
  }
  return state.fileDestination.stream.getAudioTracks()[0];
}

async function sourceTrack() {
  const source = document.querySelector("input[name=source]:checked").value;
  if (source === "mic") {
    if (!state.micStream) {
      state.micStream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
      });
    }
    return state.micStream.getAudioTracks()[0];
  }
  if (source === "file") return fileTrack();
  return null;
}

async function onSourceChange() {
  const source = document.querySelector("input[name=source]:checked").value;
  $("file-source").hidden = source !== "file";
  $("hear-avatar").checked = source !== "mic";
  applyHearAvatar();
  if (state.audioSender) {
    try {
      await state.audioSender.replaceTrack(await sourceTrack());
    } catch (error) {
      setCallState(`audio source: ${error.message}`, true);
    }
  }
}

function onAudioFile() {
  const file = $("audio-file").files[0];
  if (!file) return;
  fileTrack();
  state.fileElement.src = URL.createObjectURL(file);
  $("play-file").disabled = false;
}

async function playFile() {
  const element = state.fileElement;
  if (!element) return;
  await audioContext().resume();
  if (element.paused) {
    element.currentTime = 0;
    await element.play();
    $("play-file").textContent = "Stop playing";
  } else {
    element.pause();
    $("play-file").textContent = "Play into the call";
  }
}

function applyHearAvatar() {
  $("video").muted = !$("hear-avatar").checked;
}

// ---------------------------------------------------------------- call
function setCallState(text, isError = false) {
  const el = $("call-state");
  el.textContent = text;
  el.className = isError ? "error" : "muted";
}

function currentControls() {
  return {
    emotion: $("emotion").value,
    emotion_intensity: parseFloat($("emotion_intensity").value),
    gaze_x: parseFloat($("gaze_x").value),
    gaze_y: parseFloat($("gaze_y").value),
    head_distance: parseFloat($("head_distance").value),
  };
}

function waitForIceGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);
  });
}

function preferCodec(transceiver, codec) {
  if (!transceiver.setCodecPreferences || !RTCRtpReceiver.getCapabilities) return;
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
  const wanted = codecs.filter((c) => c.mimeType.toLowerCase() === `video/${codec}`);
  if (wanted.length) transceiver.setCodecPreferences([...wanted, ...codecs.filter((c) => !wanted.includes(c))]);
}

async function startCall() {
  $("start").disabled = true;
  setCallState("starting…");
  try {
    await audioContext().resume();
    const pc = new RTCPeerConnection({ iceServers: [] });
    state.pc = pc;
    state.remoteStream = new MediaStream();
    $("video").srcObject = state.remoteStream;
    pc.addEventListener("track", (event) => state.remoteStream.addTrack(event.track));
    pc.addEventListener("connectionstatechange", () => {
      setCallState(pc.connectionState);
      if (pc.connectionState === "failed") stopCall("the connection failed");
    });
    preferCodec(pc.addTransceiver("video", { direction: "recvonly" }), $("codec").value);
    const track = await sourceTrack().catch((error) => {
      setCallState(`no microphone (${error.message}); continuing without audio`, true);
      return null;
    });
    const audio = pc.addTransceiver("audio", { direction: "sendrecv" });
    state.audioSender = audio.sender;
    if (track) await audio.sender.replaceTrack(track);
    openChannel(pc.createDataChannel("control"));

    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, 3000);
    const answer = await api("POST", "/v1/sessions", {
      sdp: pc.localDescription.sdp,
      type: "offer",
      avatar_id: state.avatarId || "default",
      options: { controls: currentControls() },
    });
    state.sessionId = answer.session_id;
    state.sessionToken = answer.session_token;
    state.tokenTimer = setInterval(renewToken, (1000 * answer.expires_in_s) / 2);
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    $("session-id").textContent = answer.session_id;
    $("session-id-2").textContent = answer.session_id;
    $("session-token").textContent = answer.session_token;
    $("session-line").hidden = false;
    $("stop").disabled = false;
    $("record").disabled = false;
    $("say-text").disabled = false;
    $("say-button").disabled = false;
    document.querySelector(".video-frame").classList.add("live");
    applyHearAvatar();
    $("video").play().catch(() => {});
    state.statsTimer = setInterval(updateStats, 1000);
  } catch (error) {
    setCallState(error.message, true);
    await stopCall();
  }
}

function openChannel(channel) {
  state.channel = channel;
  channel.addEventListener("open", () => {
    state.pingTimer = setInterval(() => sendControl({ type: "ping", t: performance.now() }), 5000);
  });
  channel.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "server_stats") state.serverLatencyMs = message.latency_ms;
    else if (message.type === "error") setCallState(`${message.error}: ${message.detail}`, true);
    else if (message.type === "draining") setCallState(`the server is restarting: this call can go on for ${message.deadline_s} s`, true);
    else if (message.type === "playback_started") { setCallState("speaking"); sayState("speaking…"); }
    else if (message.type === "playback_finished") {
      setCallState(message.interrupted ? "interrupted" : "connected");
      sayState(`${message.interrupted ? "interrupted after" : "said"} ${message.position_s.toFixed(2)} s`);
    }
  });
}

function sendControl(message) {
  if (state.channel && state.channel.readyState === "open") state.channel.send(JSON.stringify(message));
}

async function renewToken() {
  if (!state.sessionId) return;
  try {
    const renewed = await api("POST", `/v1/sessions/${state.sessionId}/token`);
    state.sessionToken = renewed.session_token;
    $("session-token").textContent = renewed.session_token;
  } catch (error) {
    setCallState(`could not renew the session token: ${error.message}`, true);
  }
}

async function stopCall(reason) {
  clearInterval(state.statsTimer);
  clearInterval(state.pingTimer);
  clearInterval(state.tokenTimer);
  if (state.recorder && state.recorder.state !== "inactive") state.recorder.stop();
  const sessionId = state.sessionId;
  state.sessionId = null;
  if (sessionId) api("DELETE", `/v1/sessions/${sessionId}`).catch(() => {});
  state.sessionToken = null;
  if (state.pc) state.pc.close();
  state.pc = null;
  state.channel = null;
  state.audioSender = null;
  document.querySelector(".video-frame").classList.remove("live");
  $("video").srcObject = null;
  $("start").disabled = false;
  $("stop").disabled = true;
  $("record").disabled = true;
  $("say-text").disabled = true;
  $("say-button").disabled = true;
  $("session-line").hidden = true;
  if (typeof reason === "string") setCallState(reason, true);
  else setCallState("call ended");
}

// ---------------------------------------------------------------- say (the built-in voice)
function sayState(text, isError = false) {
  $("say-state").textContent = text;
  $("say-state").classList.toggle("error", isError);
}

async function sayText(event) {
  event.preventDefault();
  const text = $("say-text").value.trim();
  if (!text || !state.sessionId) return;
  if (!$("hear-avatar").checked) { $("hear-avatar").checked = true; applyHearAvatar(); }
  sayState("synthesising…");
  try {
    // Answered at once; the first phrase plays while the rest is synthesised. The playback
    // events come back on the control channel.
    const answer = await api("POST", `/v1/sessions/${state.sessionId}/say`, { text });
    sayState(`${answer.voice}: ${answer.phrases} phrase(s)…`);
    $("say-text").value = "";
  } catch (error) {
    sayState(error.message, true);
  }
}

// ---------------------------------------------------------------- stats
async function updateStats() {
  if (!state.pc) return;
  const report = await state.pc.getStats();
  let video = null;
  let pair = null;
  const codecs = {};
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") video = s;
    if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s;
    if (s.type === "codec") codecs[s.id] = s.mimeType;
  });
  if (!video) return;
  const last = state.lastStats;
  const seconds = last ? (video.timestamp - last.timestamp) / 1000 : 0;
  const fps = video.framesPerSecond ?? (last && seconds ? (video.framesDecoded - last.framesDecoded) / seconds : 0);
  $("stat-fps").textContent = fps ? fps.toFixed(1) : "–";
  $("stat-res").textContent = video.frameWidth ? `${video.frameWidth}×${video.frameHeight}` : "–";
  if (last && seconds > 0) {
    const kbps = (8 * (video.bytesReceived - last.bytesReceived)) / seconds / 1000;
    $("stat-bitrate").textContent = `${kbps.toFixed(0)} kb/s`;
  }
  const rttMs = pair && pair.currentRoundTripTime !== undefined ? pair.currentRoundTripTime * 1000 : null;
  $("stat-rtt").textContent = rttMs !== null ? `${rttMs.toFixed(0)} ms` : "–";
  // Latency estimate: the server's audio-in -> frame-out time (sent on the control channel),
  // half the round trip, and the browser's jitter buffer and decode time per frame.
  const jitterMs = video.jitterBufferEmittedCount ? (1000 * video.jitterBufferDelay) / video.jitterBufferEmittedCount : 0;
  const decodeMs = video.framesDecoded ? (1000 * video.totalDecodeTime) / video.framesDecoded : 0;
  if (state.serverLatencyMs !== null) {
    const total = state.serverLatencyMs + (rttMs || 0) / 2 + jitterMs + decodeMs;
    $("stat-latency").textContent = `${total.toFixed(0)} ms`;
  } else {
    $("stat-latency").textContent = `≥ ${(jitterMs + decodeMs).toFixed(0)} ms`;
  }
  $("stat-codec").textContent = (codecs[video.codecId] || "–").replace("video/", "");
  state.lastStats = video;
}

// ---------------------------------------------------------------- recording
function toggleRecording() {
  const button = $("record");
  if (state.recorder && state.recorder.state === "recording") {
    state.recorder.stop();
    return;
  }
  const types = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4"];
  const mimeType = types.find((t) => MediaRecorder.isTypeSupported(t)) || "";
  state.chunks = [];
  state.recorder = new MediaRecorder(state.remoteStream, mimeType ? { mimeType } : {});
  state.recorder.addEventListener("dataavailable", (event) => { if (event.data.size) state.chunks.push(event.data); });
  state.recorder.addEventListener("stop", () => {
    const blob = new Blob(state.chunks, { type: state.recorder.mimeType || "video/webm" });
    const link = $("download");
    link.href = URL.createObjectURL(blob);
    link.download = `gioconda-${new Date().toISOString().replace(/[:.]/g, "-")}.${blob.type.includes("mp4") ? "mp4" : "webm"}`;
    link.hidden = false;
    button.textContent = "Record";
    button.classList.remove("recording");
  });
  state.recorder.start(1000);
  button.textContent = "Stop recording";
  button.classList.add("recording");
  $("download").hidden = true;
}

// ---------------------------------------------------------------- wiring
function wireControls() {
  const outputs = { emotion_intensity: "intensity-out", gaze_x: "gaze-x-out", gaze_y: "gaze-y-out", head_distance: "distance-out" };
  for (const [id, out] of Object.entries(outputs)) {
    $(id).addEventListener("input", () => {
      $(out).textContent = parseFloat($(id).value).toFixed(2);
      sendControl({ type: "controls", [id]: parseFloat($(id).value) });
    });
  }
  $("emotion").addEventListener("change", () => sendControl({ type: "controls", emotion: $("emotion").value }));
}

function init() {
  // A client token handed over in the fragment (never sent to a server, so never in its logs).
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromFragment) {
    $("client-token").value = fromFragment;
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("client-token").addEventListener("change", () => loadAvatars());
  $("start").addEventListener("click", startCall);
  $("stop").addEventListener("click", () => stopCall());
  $("record").addEventListener("click", toggleRecording);
  $("upload-form").addEventListener("submit", uploadAvatar);
  $("audio-file").addEventListener("change", onAudioFile);
  $("play-file").addEventListener("click", playFile);
  $("hear-avatar").addEventListener("change", applyHearAvatar);
  $("say-form").addEventListener("submit", sayText);
  for (const radio of document.querySelectorAll("input[name=source]")) radio.addEventListener("change", onSourceChange);
  wireControls();
  pollReady();
  loadAvatars();
  window.gioconda = state; // for tests and debugging
}

init();
