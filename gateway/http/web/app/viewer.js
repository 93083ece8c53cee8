// SPDX-License-Identifier: GPL-2.0-or-later
//
// The viewer's page: the household's cameras as a grid, and one camera live
// (#camera=ID). In the grid a camera that has a sub stream (its smaller
// second one) plays it live, muted; the others show snapshots that refresh
// while the page is visible. The live view plays the main stream, or the sub
// stream on a small screen (not in full screen): body.dataset.stream says
// which. All it shows comes from /v1, which answers only what this display
// may see; every name from the gateway is set as text, never as HTML.
//
// document.body.dataset.state says where the page is: loading, listing,
// connecting, playing, paused, offline, quarantined, notfound, removed,
// unreachable, unsupported (tests and assistive tools read it; #status says it in words).

import { LivePlayer, httpError, stateOfError } from './player.js';

const REFRESH_MS = 3000;
// A screen no wider than the sub stream: it is enough there.
const SMALL_SCREEN = window.matchMedia('(max-width: 640px)');

const MESSAGES = {
  loading: 'Loading…',
  listing: '',
  connecting: 'Connecting…',
  playing: '',
  offline: 'This camera is offline. Trying again…',
  quarantined: 'This camera is quarantined: its identity changed, and it stays dark ' +
               'until the administrator adopts it again.',
  notfound: 'Camera not found.',
  removed: 'This display was removed from the household. Pair it again to watch.',
  notpaired: 'This device is not paired with this gateway. Ask someone in the ' +
             'household for a pairing code.',
  unreachable: 'Cannot reach the gateway. Trying again…',
  unsupported: 'This browser cannot play this camera.',
  paused: 'Paused while the page is hidden.',
};

const CAMERA_STATES = {
  streaming: '',
  connecting: 'Connecting…',
  offline: 'Offline',
  refused: 'Refused: another device is at its address',
  quarantined: 'Quarantined',
  stopped: 'Not running',
};

const $ = (id) => document.getElementById(id);

let cameras = new Map();   // id → camera, as /v1/cameras last said
let player = null;
let gridPlayers = new Map();  // id → the LivePlayer of its card's sub stream
let refreshTimer = 0;
let snapshotUrls = new Map();
let answered = false;      // the gateway has served this display on this page

function refused(state) {
  return state === 'removed' || state === 'notpaired';
}

function setState(state, detail) {
  if (state === 'removed' && !answered)
    state = 'notpaired';
  if (state === 'playing' || state === 'listing')
    answered = true;
  document.body.dataset.state = state;
  $('status').textContent = MESSAGES[state] ?? detail ?? state;
  if (refused(state) || state === 'unreachable') {
    stopRefresh();
    if (refused(state)) {
      player?.stop();
      stopGridPlayers();
    }
  }
}

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok)
    throw await httpError(response);
  answered = true;
  return response.json();
}

function cameraFromHash() {
  const match = /^#camera=([^&]+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

// --- the grid -----------------------------------------------------------------

function stopGridPlayer(id) {
  gridPlayers.get(id)?.stop();
  gridPlayers.delete(id);
}

function stopGridPlayers() {
  for (const id of Array.from(gridPlayers.keys()))
    stopGridPlayer(id);
}

// Whether a card plays its camera's sub stream rather than snapshots.
function playsSub(camera) {
  return camera.state === 'streaming' && camera.sub != null;
}

// The card's picture becomes its camera's sub stream, live and muted.
function playSub(card, camera) {
  if (gridPlayers.has(camera.id))
    return;
  let video = card.querySelector('video');
  if (!video) {
    video = document.createElement('video');
    video.className = 'live';
    video.muted = true;
    video.playsInline = true;
    card.querySelector('.picture, img').replaceWith(video);
  }
  const sub = new LivePlayer(video, camera.id, (state, detail) => {
    card.dataset.videoState = state;
    if (refused(state))
      setState(state, detail);
  }, { stream: 'sub', muted: true });
  gridPlayers.set(camera.id, sub);
  sub.start();
}

function cameraCard(camera) {
  const card = document.createElement('button');
  card.type = 'button';
  card.className = 'camera';
  card.dataset.id = camera.id;
  const picture = document.createElement('div');
  picture.className = 'picture';
  const name = document.createElement('span');
  name.className = 'name';
  card.append(picture, name);
  card.addEventListener('click', () => {
    location.hash = `camera=${encodeURIComponent(camera.id)}`;
  });
  return card;
}

function updateCard(card, camera) {
  card.querySelector('.name').textContent = camera.name;
  card.dataset.cameraState = camera.state;
  const picture = card.querySelector('.picture, img, video');
  if (picture.tagName === 'VIDEO' && !playsSub(camera)) {
    stopGridPlayer(camera.id);
    delete card.dataset.videoState;
  }
  if ((camera.state !== 'streaming' && picture.tagName === 'IMG') ||
      (picture.tagName === 'VIDEO' && !playsSub(camera))) {
    const placeholder = document.createElement('div');
    placeholder.className = 'picture';
    picture.replaceWith(placeholder);
  }
  const current = card.querySelector('.picture');
  if (current)
    current.textContent = CAMERA_STATES[camera.state] ?? camera.state;
}

async function refreshSnapshot(card, id) {
  let blob;
  try {
    const response = await fetch(`/v1/cameras/${encodeURIComponent(id)}/snapshot.jpg`,
                                 { cache: 'no-store' });
    if (!response.ok)
      return;  // no keyframe yet, or gone: the next refresh tells
    blob = await response.blob();
  } catch (error) {
    return;
  }
  if (!card.isConnected || cameras.get(id)?.state !== 'streaming' || gridPlayers.has(id))
    return;
  let img = card.querySelector('img');
  if (!img) {
    const placeholder = card.querySelector('.picture');
    if (!placeholder)
      return;
    img = document.createElement('img');
    img.alt = '';
    placeholder.replaceWith(img);
  }
  const url = URL.createObjectURL(blob);
  img.src = url;
  if (snapshotUrls.has(id))
    URL.revokeObjectURL(snapshotUrls.get(id));
  snapshotUrls.set(id, url);
}

async function refreshGrid() {
  let list;
  try {
    list = await getJson('/v1/cameras');
  } catch (error) {
    const state = stateOfError(error);
    setState(state, error.message);
    if (!refused(document.body.dataset.state))
      scheduleRefresh();
    return;
  }
  if (cameraFromHash() !== null)
    return;  // the view changed while we asked
  cameras = new Map(list.cameras.map((c) => [c.id, c]));
  const grid = $('grid');
  const cards = new Map(Array.from(grid.children, (card) => [card.dataset.id, card]));
  for (const [id, card] of cards) {
    if (!cameras.has(id)) {
      stopGridPlayer(id);
      card.remove();
    }
  }
  for (const camera of list.cameras) {
    let card = cards.get(camera.id);
    if (!card) {
      card = cameraCard(camera);
      grid.append(card);
    }
    updateCard(card, camera);
    if (playsSub(camera))
      playSub(card, camera);
    else if (camera.state === 'streaming')
      refreshSnapshot(card, camera.id);
  }
  setState('listing');
  $('status').textContent = list.cameras.length === 0
    ? 'No cameras in this household yet.' : '';
  scheduleRefresh();
}

function scheduleRefresh() {
  stopRefresh();
  if (document.visibilityState === 'visible' && cameraFromHash() === null)
    refreshTimer = setTimeout(refreshGrid, REFRESH_MS);
}

function stopRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = 0;
}

// --- the live view ------------------------------------------------------------

// The main stream, but on a small screen (not in full screen) the sub
// stream where the camera has one.
function liveStream(id) {
  const small = SMALL_SCREEN.matches && !document.fullscreenElement;
  return small && cameras.get(id)?.sub != null ? 'sub' : 'main';
}

// The screen changed (rotated, full screen): the live view follows.
function restreamIfNeeded() {
  const id = document.body.dataset.camera;
  if (player && id !== undefined && player.stream !== liveStream(id))
    openCamera(id);
}

function openCamera(id) {
  player?.stop();
  stopGridPlayers();
  $('grid').hidden = true;
  $('live').hidden = false;
  $('sound').hidden = true;
  document.body.dataset.camera = id;
  $('title').textContent = cameras.get(id)?.name ?? '';
  const stream = liveStream(id);
  document.body.dataset.stream = stream;
  player = new LivePlayer($('video'), id, (state, detail) => {
    if (state === 'muted')
      $('sound').hidden = false;
    else
      setState(state, detail);
  }, { stream });
  if (document.visibilityState === 'visible')
    player.start();
  if (!cameras.has(id)) {
    // Opened by its link: the name comes from the list, when it is ours.
    getJson('/v1/cameras').then((list) => {
      const camera = list.cameras.find((c) => c.id === id);
      if (camera && document.body.dataset.camera === id) {
        $('title').textContent = camera.name;
        cameras.set(id, camera);
        restreamIfNeeded();
      }
    }).catch(() => {});
  }
}

function showGrid() {
  player?.stop();
  player = null;
  delete document.body.dataset.camera;
  delete document.body.dataset.stream;
  $('live').hidden = true;
  $('grid').hidden = false;
  $('title').textContent = '';
  setState('loading');
  refreshGrid();
}

function route() {
  stopRefresh();
  const id = cameraFromHash();
  if (id === null)
    showGrid();
  else
    openCamera(id);
}

$('sound').addEventListener('click', () => {
  $('video').muted = false;
  $('sound').hidden = true;
});

// Nothing streams or refreshes while nobody can see the page.
document.addEventListener('visibilitychange', () => {
  if (refused(document.body.dataset.state))
    return;
  if (document.visibilityState === 'hidden') {
    stopRefresh();
    stopGridPlayers();
    if (player) {
      player.stop();
      setState('paused');
    }
  } else if (player) {
    player.start();
  } else {
    refreshGrid();
  }
});

SMALL_SCREEN.addEventListener('change', restreamIfNeeded);
document.addEventListener('fullscreenchange', restreamIfNeeded);
window.addEventListener('hashchange', route);
route();
