// SPDX-License-Identifier: GPL-2.0-or-later
//
// One camera, live, in a <video>. Where the browser has MediaSource (or
// Safari's ManagedMediaSource), live.mp4 is read as it streams and appended
// to a SourceBuffer, kept short and at the live edge; elsewhere the browser's
// own HLS plays the LL-HLS playlist. A stream that ends cleanly is the
// camera's next generation: a fresh MediaSource follows it. Failures are
// retried with a growing delay, except those that cannot get better here
// (no such camera, this display was removed).
//
// A camera with a sub stream (a smaller second one) is played from it with
// the option stream: 'sub': every request then says ?stream=sub (the LL-HLS
// playlist's own URIs carry it on). The option muted: true plays without
// sound and never asks for it (the grid).
//
// The player reports what it is doing through onState(state, detail), with
// state one of: connecting, playing, offline, quarantined, notfound, removed,
// unreachable, unsupported; and "muted" when the browser let it start only
// without sound.

const KEEP_SECONDS = 6;      // buffer kept behind the playhead
const SEEK_BEHIND = 1.5;     // further behind the live edge than this: jump
const CATCH_UP_BEHIND = 0.3; // further behind than this: play a little faster
const HLS_CATCH_UP_BEHIND = 1.0; // the same for a browser's own HLS
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10000;
const STALL_MS = 3000;       // a picture still this long while playing: start again

// An answer of the gateway other than 200, with its JSON error code.
export class HttpError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export async function httpError(response) {
  let body = {};
  try {
    body = await response.json();
  } catch (e) {
    // not JSON: the status alone says what it is
  }
  return new HttpError(response.status, body.error, body.message);
}

// What a failed request means for the viewer: a state name.
export function stateOfError(error) {
  // fetch() fails with a TypeError when there is no answer at all; anything
  // else here is the browser's media stack, which the next round retries.
  if (!(error instanceof HttpError)) {
    const states = { AbortError: 'aborted', Unsupported: 'unsupported', TypeError: 'unreachable' };
    return states[error.name] || 'connecting';
  }
  if (error.status === 403 || error.status === 401)
    return 'removed';
  if (error.status === 404)
    return 'notfound';
  if (error.status === 503)
    return error.code === 'quarantined' ? 'quarantined' : 'offline';
  return 'unreachable';
}

const FINAL_STATES = new Set(['notfound', 'removed', 'unsupported']);

// --- the codecs of an init segment (ftyp + moov) -----------------------------

function hex2(n) {
  return n.toString(16).padStart(2, '0');
}

function reverseBits32(n) {
  let r = 0;
  for (let i = 0; i < 32; i++) {
    r = (r << 1) | (n & 1);
    n >>>= 1;
  }
  return r >>> 0;
}

// Calls found(type, start, end) for each box between start and end.
function eachBox(view, start, end, found) {
  let pos = start;
  while (pos + 8 <= end) {
    let size = view.getUint32(pos);
    const type = String.fromCharCode(view.getUint8(pos + 4), view.getUint8(pos + 5),
                                     view.getUint8(pos + 6), view.getUint8(pos + 7));
    let header = 8;
    if (size === 1) {
      size = Number(view.getBigUint64(pos + 8));
      header = 16;
    } else if (size === 0) {
      size = end - pos;
    }
    if (size < header || pos + size > end)
      return;
    found(type, pos + header, pos + size);
    pos += size;
  }
}

// The RFC 6381 codec strings of an init segment, e.g. ["avc1.64001f", "mp4a.40.2"].
export function codecsOfInit(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const codecs = [];
  let entry = '';
  const walk = (start, end) => eachBox(view, start, end, (type, s, e) => {
    if (['moov', 'trak', 'mdia', 'minf', 'stbl'].includes(type)) {
      walk(s, e);
    } else if (type === 'stsd') {
      walk(s + 8, e);
    } else if (['avc1', 'avc3', 'hvc1', 'hev1'].includes(type)) {
      entry = type;
      walk(s + 78, e);            // after the visual sample entry's fields
    } else if (type === 'mp4a') {
      codecs.push('mp4a.40.2');   // AAC is what the gateway passes through
    } else if (type === 'avcC' && e - s >= 4) {
      codecs.push(`${entry}.${hex2(bytes[s + 1])}${hex2(bytes[s + 2])}${hex2(bytes[s + 3])}`);
    } else if (type === 'hvcC' && e - s >= 13) {
      const b = bytes[s + 1];
      const constraints = Array.from(bytes.subarray(s + 6, s + 12));
      while (constraints.length > 0 && constraints[constraints.length - 1] === 0)
        constraints.pop();
      codecs.push([`${entry}.${['', 'A', 'B', 'C'][b >> 6]}${b & 31}`,
                   reverseBits32(view.getUint32(s + 2)).toString(16),
                   `${(b & 32) ? 'H' : 'L'}${bytes[s + 12]}`,
                   ...constraints.map((c) => c.toString(16).toUpperCase())].join('.'));
    }
  });
  walk(0, bytes.byteLength);
  return codecs;
}

// Length of the leading ftyp + moov in bytes, or 0 while it is incomplete.
function initLength(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let length = 0;
  let complete = false;
  eachBox(view, 0, bytes.byteLength, (type, s, e) => {
    if (complete)
      return;
    length = e;
    complete = type === 'moov';
  });
  return complete ? length : 0;
}

function concat(a, b) {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

// Runs one SourceBuffer operation (append, remove) to its end.
function update(buffer, operation) {
  return new Promise((resolve, reject) => {
    const done = (event) => {
      buffer.removeEventListener('updateend', done);
      buffer.removeEventListener('error', done);
      if (event.type === 'error')
        reject(new Error('the browser could not decode the stream'));
      else
        resolve();
    };
    buffer.addEventListener('updateend', done);
    buffer.addEventListener('error', done);
    operation();
  });
}

// --- the player ---------------------------------------------------------------

export class LivePlayer {
  constructor(video, cameraId, onState, { stream = 'main', muted = false } = {}) {
    this.video = video;
    this.cameraId = cameraId;
    this.stream = stream;
    this.muted = muted;
    this.base = `/v1/cameras/${encodeURIComponent(cameraId)}`;
    this.query = stream === 'sub' ? '?stream=sub' : '';
    video.dataset.stream = stream;  // which one it plays, for people and tests
    this.onState = onState;
    this.token = null;          // the running loop's; null when stopped
    this.abort = null;
    this.wake = null;
    this.showing = false;       // this round of the loop has shown a picture
    this.catchingUp = false;
    this.stalled = false;       // the watchdog stopped this round
  }

  static mediaSourceClass() {
    return window.ManagedMediaSource || window.MediaSource || null;
  }

  get running() {
    return this.token !== null;
  }

  start() {
    if (this.running)
      return;
    const token = {};
    this.token = token;
    this.loop(token);
  }

  // Stops streaming now (page hidden, another view, or a final state).
  stop() {
    this.token = null;
    this.abort?.abort();
    this.wake?.();
    this.clear();
  }

  clear() {
    const video = this.video;
    if (video.src?.startsWith('blob:'))
      URL.revokeObjectURL(video.src);
    video.removeAttribute('src');
    video.load();
  }

  state(name, detail) {
    if (this.running || FINAL_STATES.has(name))
      this.onState(name, detail);
  }

  async loop(token) {
    let delay = RETRY_FIRST_MS;
    const MediaSourceClass = LivePlayer.mediaSourceClass();
    const nativeHls = !MediaSourceClass &&
        this.video.canPlayType('application/vnd.apple.mpegurl') !== '';

    if (!MediaSourceClass && !nativeHls) {
      this.token = null;
      this.onState('unsupported', 'This browser can play neither MSE nor HLS.');
      return;
    }
    this.state('connecting');
    while (this.token === token) {
      let played = false;
      this.showing = false;
      try {
        if (MediaSourceClass)
          played = await this.playMse(MediaSourceClass);
        else
          played = await this.playHls();
        // A clean end after pictures: the camera's next generation, at once.
        // One before any picture: the camera is not streaming; say so, wait.
        if (played) {
          delay = RETRY_FIRST_MS;
          continue;
        }
        await this.checkCamera();
      } catch (error) {
        if (this.token !== token)
          return;
        let name = stateOfError(error);
        // A stream that was playing and broke or stood still: first just
        // try again.
        if (this.stalled || (name === 'unreachable' && this.showing)) {
          this.stalled = false;
          name = 'connecting';
          delay = RETRY_FIRST_MS;
        }
        this.clear();
        this.state(name, error.message);
        if (FINAL_STATES.has(name)) {
          this.token = null;
          return;
        }
      }
      await new Promise((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, delay);
      });
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  async fetchOk(path, signal) {
    const response = await fetch(this.base + path + this.query, { cache: 'no-store', signal });
    if (!response.ok)
      throw await httpError(response);
    return response;
  }

  // What the camera list says of a camera whose stream had no picture.
  async checkCamera() {
    const response = await fetch('/v1/cameras', { cache: 'no-store' });
    if (!response.ok)
      throw await httpError(response);
    const camera = (await response.json()).cameras.find((c) => c.id === this.cameraId);
    if (!camera)
      throw new HttpError(404, 'not_found', 'no such camera');
    if (camera.state !== 'streaming' && camera.state !== 'connecting') {
      this.clear();
      this.state('offline');
    }
  }

  // Plays one live.mp4 response to its end; TRUE if a frame was shown.
  async playMse(MediaSourceClass) {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    const response = await this.fetchOk('/live.mp4', signal);
    const reader = response.body.getReader();
    let pending = new Uint8Array(0);
    let length = 0;

    while (length === 0) {
      const { value, done } = await reader.read();
      if (done)
        return false;
      pending = concat(pending, value);
      length = initLength(pending);
    }
    const mime = `video/mp4; codecs="${codecsOfInit(pending.subarray(0, length)).join(',')}"`;
    if (!MediaSourceClass.isTypeSupported(mime)) {
      reader.cancel();
      throw Object.assign(new Error(`This browser cannot play ${mime}.`),
                          { name: 'Unsupported' });
    }

    const source = new MediaSourceClass();
    const opened = new Promise((resolve) =>
      source.addEventListener('sourceopen', resolve, { once: true }));
    const oldUrl = this.video.src;
    this.video.disableRemotePlayback = true;  // ManagedMediaSource asks for it
    this.video.src = URL.createObjectURL(source);
    if (oldUrl.startsWith('blob:'))
      URL.revokeObjectURL(oldUrl);
    await opened;
    const buffer = source.addSourceBuffer(mime);
    buffer.mode = 'segments';

    let shown = false;
    const firstFrame = new Promise((resolve) => this.onFirstFrame(resolve));
    firstFrame.then(() => {
      // For bench/browser.sh: time from navigation to the first picture.
      if (performance.getEntriesByName('hearth-first-frame').length === 0)
        performance.mark('hearth-first-frame');
      shown = true;
      this.showing = true;
      if (!signal.aborted)
        this.state('playing');
    });
    this.autoplay();

    let chunk = pending;
    const watchdog = this.watchStall(this.abort);
    try {
      for (;;) {
        await this.append(buffer, chunk, signal);
        this.followLiveEdge(buffer);
        const { value, done } = await reader.read();
        if (done)
          break;
        chunk = value;
      }
    } finally {
      clearInterval(watchdog);
    }
    if (source.readyState === 'open' && !buffer.updating)
      source.endOfStream();
    return shown;
  }

  // Starts the stream again when the picture stands still although the
  // video plays (seen in Firefox, rarely, after the stream started again: one
  // frame buffered, then nothing more taken).
  watchStall(controller) {
    const video = this.video;
    let last = video.currentTime;
    let since = performance.now();
    return setInterval(() => {
      if (!this.showing || video.paused || video.currentTime !== last) {
        last = video.currentTime;
        since = performance.now();
      } else if (performance.now() - since > STALL_MS) {
        this.stalled = true;
        controller.abort();
      }
    }, 500);
  }

  async append(buffer, bytes, signal) {
    if (signal.aborted)
      throw new DOMException('stopped', 'AbortError');
    await update(buffer, () => buffer.appendBuffer(bytes));
    // Forget what is well behind the playhead: the buffer stays small.
    const played = this.video.currentTime - KEEP_SECONDS;
    if (buffer.buffered.length > 0 && buffer.buffered.start(0) < played - 1)
      await update(buffer, () => buffer.remove(0, played));
  }

  // @media: the SourceBuffer, or the video itself when it plays HLS.
  followLiveEdge(media) {
    const video = this.video;
    const ranges = media.buffered;
    if (ranges.length === 0)
      return;
    const end = ranges.end(ranges.length - 1);
    const behind = end - video.currentTime;
    // A browser's own HLS may not seek in a live playlist, and buffers whole
    // segments: it only catches up, and keeps a segment in hand.
    const hls = media === video;
    if (!hls && (behind > SEEK_BEHIND || video.currentTime < ranges.start(ranges.length - 1)))
      video.currentTime = Math.max(ranges.start(ranges.length - 1), end - 0.1);
    else
      this.catchUp(behind, hls ? HLS_CATCH_UP_BEHIND : CATCH_UP_BEHIND);
  }

  // A little faster from @limit behind until half of it is left.
  catchUp(behind, limit) {
    if (behind > limit)
      this.catchingUp = true;
    else if (behind < limit / 2)
      this.catchingUp = false;
    this.video.playbackRate = this.catchingUp ? 1.1 : 1.0;
  }

  onFirstFrame(callback) {
    if (this.video.requestVideoFrameCallback)
      this.video.requestVideoFrameCallback(() => callback());
    else
      this.video.addEventListener('playing', callback, { once: true });
  }

  // Sound where the browser allows it; else muted, and a tap brings sound.
  autoplay() {
    const video = this.video;
    if (this.muted) {
      video.muted = true;
      video.play().catch(() => {});
      return;
    }
    video.muted = false;
    video.play().catch((error) => {
      if (error.name !== 'NotAllowedError')
        return;
      video.muted = true;
      this.onState('muted');
      video.play().catch(() => {});
    });
  }

  // Native HLS (Safari on iPhone): the browser fetches; we keep at the edge.
  async playHls() {
    const video = this.video;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    // Ask first: a refusal is then a status the page can tell apart.
    await this.fetchOk('/hls/index.m3u8', signal);
    video.src = `${this.base}/hls/index.m3u8${this.query}`;
    let shown = false;
    this.onFirstFrame(() => {
      shown = true;
      this.showing = true;
      this.state('playing');
    });
    this.autoplay();
    const follow = () => this.followLiveEdge(video);
    video.addEventListener('timeupdate', follow);
    await new Promise((resolve, reject) => {
      video.addEventListener('ended', resolve, { once: true });
      video.addEventListener('error', () => reject(new Error('playback failed')), { once: true });
      signal.addEventListener('abort', () => reject(new DOMException('stopped', 'AbortError')),
                              { once: true });
    }).finally(() => video.removeEventListener('timeupdate', follow));
    // Ended or failed: the next round asks the playlist what happened.
    return shown;
  }
}
