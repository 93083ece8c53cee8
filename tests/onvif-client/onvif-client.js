#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
// An ONVIF client the project did not write, the npm `onvif` package (pinned
// in package.json and package-lock.json beside this file; scripts/setup.sh
// --tests installs it with `npm ci`), asked what the fake ONVIF camera
// (tests/tools/fake-onvif.py) says. Prints one JSON document on stdout. Runs
// on Debian's nodejs 18 and later.
//
//   onvif-client.js probe [--timeout MS] [--device IFACE]
//       WS-Discovery Probe (Types dn:NetworkVideoTransmitter) on
//       239.255.255.250:3702; after MS (default 3000) prints
//       {"devices": [{"endpoint", "types", "scopes": [...], "xaddrs": [...],
//       "from"}], "errors": [...]}. Needs a route for 224.0.0.0/4.
//   onvif-client.js camera --host ADDR [--port N] [--user U --password-file F]
//       connects (GetSystemDateAndTime, GetServices or GetCapabilities,
//       GetProfiles, GetVideoSources), then GetDeviceInformation, GetScopes,
//       GetNetworkInterfaces and GetStreamUri (RTSP) for each profile; prints
//       {"deviceInformation": {...}, "scopes": [...], "mac": "...",
//       "profiles": [{"token", "name", "encoding", "width", "height",
//       "uri"}]}, or {"error": MESSAGE} with exit status 2 when a request
//       fails (a wrong password: "ONVIF SOAP Fault: Sender not Authorized").
//
// Exit status 64 for bad arguments. The password is read from the file and
// never printed.
'use strict';

const fs = require('fs');
const onvif = require('onvif');

function usage(message) {
  process.stderr.write(`onvif-client: ${message}\n`);
  process.exit(64);
}

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (!m || i + 1 >= argv.length) {
      usage(`unexpected argument “${argv[i]}”`);
    }
    options[m[1]] = argv[++i];
  }
  return options;
}

function print(value) {
  process.stdout.write(JSON.stringify(value, null, 1) + '\n');
}

function asList(value) {
  if (value === undefined || value === null || value === '') {
    return [];
  }
  return Array.isArray(value) ? value : [value];
}

function probe(options) {
  const timeout = Number(options.timeout || 3000);
  if (!(timeout > 0 && timeout <= 60000)) {
    usage('--timeout must be 1 to 60000 ms');
  }
  const devices = [];
  const errors = [];
  onvif.Discovery.on('error', (err) => errors.push(String(err)));
  onvif.Discovery.on('device', (data, rinfo) => {
    const match = data.probeMatches.probeMatch;
    devices.push({
      endpoint: match.endpointReference.address,
      types: String(match.types || '').split(/\s+/).filter(Boolean),
      scopes: String(match.scopes || '').split(/\s+/).filter(Boolean),
      xaddrs: String(match.XAddrs || '').split(/\s+/).filter(Boolean),
      from: rinfo.address,
    });
  });
  onvif.Discovery.probe({ resolve: false, timeout: timeout, device: options.device }, () => {
    print({ devices: devices, errors: errors });
  });
}

function call(cam, method, ...args) {
  return new Promise((resolve, reject) => {
    cam[method](...args, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function camera(options) {
  if (!options.host) {
    usage('camera needs --host');
  }
  if ((options.user === undefined) !== (options['password-file'] === undefined)) {
    usage('--user and --password-file go together');
  }
  let password;
  if (options['password-file'] !== undefined) {
    password = fs.readFileSync(options['password-file'], 'utf8').split(/\r?\n/)[0];
  }
  const cam = new onvif.Cam({
    hostname: options.host,
    port: Number(options.port || 80),
    username: options.user,
    password: password,
    timeout: 15000,
    autoconnect: false,
  });
  // connect() reports a failed GetProfiles only as a warning.
  const warnings = [];
  cam.on('warning', (w) => warnings.push(String(w)));
  try {
    await new Promise((resolve, reject) => cam.connect((err) => (err ? reject(err) : resolve())));
    if (!cam.profiles || cam.profiles.length === 0) {
      throw new Error('connected, but the camera gave no media profiles' +
        (warnings.length ? ` (${warnings.join('; ')})` : ''));
    }
    const info = await call(cam, 'getDeviceInformation');
    const scopes = await call(cam, 'getScopes');
    const interfaces = await call(cam, 'getNetworkInterfaces');
    const profiles = [];
    for (const profile of cam.profiles) {
      const encoder = profile.videoEncoderConfiguration || {};
      const stream = await call(cam, 'getStreamUri', { protocol: 'RTSP', profileToken: profile.$.token });
      profiles.push({
        token: profile.$.token,
        name: profile.name,
        encoding: encoder.encoding,
        width: encoder.resolution ? encoder.resolution.width : null,
        height: encoder.resolution ? encoder.resolution.height : null,
        uri: stream.uri,
      });
    }
    print({
      deviceInformation: info,
      scopes: asList(scopes).map((s) => s.scopeItem),
      mac: asList(interfaces).map((i) => i.info && i.info.hwAddress)[0] || null,
      profiles: profiles,
    });
  } catch (err) {
    print({ error: err && err.message ? err.message : String(err) });
    process.exitCode = 2;
  }
}

const [command, ...rest] = process.argv.slice(2);
const options = parseArgs(rest);
if (command === 'probe') {
  probe(options);
} else if (command === 'camera') {
  camera(options);
} else {
  usage('the command is probe or camera');
}
