#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""fake-onvif: a fake ONVIF camera for tests, in front of the project's fake
RTSP camera (tests/tools/fake-camera). It speaks what cameras as they are sold
speak, so that a client the project did not write (the npm `onvif` package,
tests/onvif-client) accepts it:

- WS-Discovery (2005/04, SOAP-over-UDP, IPv4 239.255.255.250:3702 on one
  interface, and with --ipv6 [ff02::c]:3702 on it too; multicast TTL / hop
  limit 1): Hello when it starts, Bye on SIGTERM/SIGINT,
  a unicast ProbeMatch to a Probe whose Types are empty or among
  "dn:NetworkVideoTransmitter tds:Device" and whose Scopes (RFC 3986 prefix
  match) are among its own, a ResolveMatch to a Resolve of its endpoint.
  Types, Scopes (onvif://www.onvif.org/type/video_encoder, Profile/Streaming,
  hardware/MODEL, name/MAKER, plus --scope), XAddrs
  http://ADDRESS:PORT/onvif/device_service, MetadataVersion 1; the endpoint
  reference is urn:uuid:UUID. XAddrs name the IPv4 address, also in answers
  over IPv6 (the services listen on IPv4 only).
- Device service (ver10, /onvif/device_service): GetSystemDateAndTime,
  GetCapabilities, GetServices, GetServiceCapabilities, GetDeviceInformation,
  GetNetworkInterfaces (HwAddress: --mac), GetScopes, GetHostname, GetWsdlUrl.
- Media service (ver10, /onvif/media_service): GetProfiles (two: "Profile_1"
  mainStream, "Profile_2" subStream, each with a VideoSourceConfiguration and
  an H264 VideoEncoderConfiguration of its resolution), GetProfile,
  GetVideoSources, GetVideoSourceConfigurations,
  GetVideoEncoderConfigurations, GetStreamUri (RTP-Unicast over RTSP or UDP:
  the RTSP URL of that profile's stream), GetServiceCapabilities. No Media2
  (ver20), no snapshot URI (GetSnapshotUri is answered ActionNotSupported).
  Both paths answer every operation, as many cameras do; other paths 404.
- WS-Security UsernameToken (OASIS 2004/01): PasswordDigest =
  Base64(SHA-1(nonce + created + password)) is accepted; PasswordText too,
  as most cameras do, unless --password-text refuse. Created must be within 5
  minutes of the camera's clock and a nonce is accepted once (replay
  protection, as Axis and Hikvision do). With --user, every operation needs a
  valid token except those ONVIF's access class PRE_AUTH leaves open
  (GetSystemDateAndTime, GetCapabilities, GetServices,
  GetServiceCapabilities, GetHostname, GetWsdlUrl); --strict-auth closes all
  but GetSystemDateAndTime, as some cameras do. A token that is sent is always
  checked. A missing or wrong token is answered with the SOAP 1.2 fault
  env:Sender / ter:NotAuthorized, reason "Sender not Authorized", with HTTP
  400 as the ONVIF Core Specification (5.9.1) says and Hikvision, Dahua and
  Axis do (--auth-fault-status 401 for cameras that answer 401, without a
  WWW-Authenticate challenge). Without --user nothing is checked.
- HTTP Digest (RFC 7616, MD5, qop auth, as ONVIF 2.x devices offer it):
  with --auth http-digest instead of WS-Security (whose headers are then
  ignored), with --auth both as well as WS-Security. A request that needs
  credentials and has none valid is answered 401 with a Digest challenge
  (realm "fake-onvif") and the NotAuthorized fault.
- RTSP: with --fake-camera BIN it starts two fake-camera processes on
  --address: main (--main-size, default 1280x720) on --rtsp-port (default
  554) at /Streaming/Channels/101, sub (--sub-size, default 640x360) on
  --rtsp-port + 1 at /Streaming/Channels/102, each stamping frames with its
  own id (--main-stamp-id, --sub-stamp-id; random by default), both requiring
  --user and the password (RTSP Digest) when given. --camera-arg ARG passes
  ARG to both (e.g. --camera-arg=--audio=pcma). Without --fake-camera no
  stream runs, the URIs are still answered.
- Hostile answers: --stream-uri-host HOST[:PORT] puts HOST (a public address,
  another device's) into every stream URI; --stream-uri TOKEN=URL answers URL
  as it is for that profile token (Profile_1, Profile_2).

Usage:

  fake-onvif.py --interface IFACE | --address ADDR [--http-port N]
      [--uuid UUID] [--serial S] [--mac MAC] [--maker M] [--model M]
      [--firmware V] [--hardware-id H] [--hostname NAME] [--scope URI]...
      [--user NAME --password-file FILE] [--password-text accept|refuse]
      [--auth wsse|http-digest|both] [--strict-auth]
      [--auth-fault-status 400|401] [--clock-offset SECONDS]
      [--fake-camera BIN] [--rtsp-port N] [--main-size WxH] [--sub-size WxH]
      [--fps N] [--main-stamp-id UUID] [--sub-stamp-id UUID]
      [--camera-arg ARG]... [--stream-uri-host HOST[:PORT]]
      [--stream-uri TOKEN=URL]... [--no-discovery] [--no-hello] [--ipv6]
      [--ready-file FILE]

--address defaults to the first IPv4 address of --interface, --interface to
the interface that holds --address; --mac to that interface's MAC. --http-port
defaults to 80, 0 picks a free port. Discovery needs the interface to have
MULTICAST (a veth in a test namespace has; lo has not: --no-discovery there).

Once everything listens (and after the first Hello) it prints one line on
stdout, and into --ready-file:

  http://ADDR:PORT/onvif/device_service uuid=UUID main=RTSP-URL sub=RTSP-URL
  main-stamp-id=UUID sub-stamp-id=UUID

(one line) and then one log line per request or datagram on stderr. The
password is never printed or logged, nor the user name, nor a token.
SIGTERM or SIGINT: Bye, then the fake cameras stop, exit 0. Exit status 64
for bad arguments, 69 when something cannot start, 70 when a fake camera
dies.

Threads: the main thread runs the WS-Discovery socket and signals; HTTP
requests run in the HTTP server's threads (socketserver.ThreadingMixIn). The
camera's description (Camera) is immutable once built; the nonces (those of
WS-Security tokens seen, those of HTTP Digest challenges issued) are the
shared state, each set behind its lock.
"""

import argparse
import base64
import binascii
import ctypes
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import random
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS_ENV = "http://www.w3.org/2003/05/soap-envelope"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = ("http://docs.oasis-open.org/wss/2004/01/"
                   "oasis-200401-wss-username-token-profile-1.0#PasswordDigest")
PASSWORD_TEXT = ("http://docs.oasis-open.org/wss/2004/01/"
                 "oasis-200401-wss-username-token-profile-1.0#PasswordText")
NS_TDS = "http://www.onvif.org/ver10/device/wsdl"
NS_TRT = "http://www.onvif.org/ver10/media/wsdl"
NS_TT = "http://www.onvif.org/ver10/schema"
NS_TER = "http://www.onvif.org/ver10/error"
NS_DN = "http://www.onvif.org/ver10/network/wsdl"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSD_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
WSA_ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
RFC3986 = "http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc3986"
WSD_GROUP = "239.255.255.250"
WSD_GROUP6 = "ff02::c"
WSD_PORT = 3702

OUR_TYPES = {(NS_DN, "NetworkVideoTransmitter"), (NS_TDS, "Device")}
DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
MAX_REQUEST = 64 * 1024       # an HTTP body or a datagram, in bytes
CREATED_SKEW = 300            # seconds a token's Created may differ
NONCE_MEMORY = 2 * CREATED_SKEW
PRE_AUTH = {"GetSystemDateAndTime", "GetCapabilities", "GetServices",
            "GetServiceCapabilities", "GetHostname", "GetWsdlUrl"}

EX_USAGE, EX_SOFTWARE, EX_UNAVAILABLE = 64, 70, 69


def log(message):
    print(f"fake-onvif: {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


class UsageError(Exception):
    pass


class Fault(Exception):
    """A SOAP fault: env:Sender (HTTP 400) or env:Receiver (HTTP 500), with
    ONVIF subcodes (ter:...)."""

    def __init__(self, code, subcodes, reason, status=None):
        super().__init__(reason)
        self.code = code
        self.subcodes = subcodes
        self.reason = reason
        self.status = status or (400 if code == "Sender" else 500)


def not_authorized(why, status):
    fault = Fault("Sender", ["NotAuthorized"], "Sender not Authorized", status)
    fault.why = why
    return fault


# --- the camera's description ---------------------------------------------------

class Profile:
    def __init__(self, token, name, width, height, fps, bitrate, path, port, stamp_id):
        self.token = token
        self.name = name
        self.width = width
        self.height = height
        self.fps = fps
        self.bitrate = bitrate
        self.path = path
        self.port = port
        self.stamp_id = stamp_id
        self.uri = None  # what GetStreamUri answers, set once the address is known


class Camera:
    """Everything the camera says about itself; immutable once built."""

    def __init__(self, args, address, interface, mac):
        self.address = address
        self.interface = interface
        self.mac = mac
        self.uuid = args.uuid
        self.maker = args.maker
        self.model = args.model
        self.firmware = args.firmware
        self.serial = args.serial
        self.hardware_id = args.hardware_id
        self.hostname = args.hostname
        self.user = args.user
        self.password = None
        self.password_text = args.password_text == "accept"
        self.strict_auth = args.strict_auth
        self.wsse = args.auth in ("wsse", "both")
        self.http_digest = args.auth in ("http-digest", "both")
        self.auth_fault_status = args.auth_fault_status
        self.clock_offset = args.clock_offset
        self.http_port = None
        self.scopes = ["onvif://www.onvif.org/type/video_encoder",
                       "onvif://www.onvif.org/Profile/Streaming",
                       "onvif://www.onvif.org/hardware/" + urllib.parse.quote(self.model),
                       "onvif://www.onvif.org/name/" + urllib.parse.quote(self.maker)]
        self.scopes += args.scope
        main_w, main_h = args.main_size
        sub_w, sub_h = args.sub_size
        self.profiles = [
            Profile("Profile_1", "mainStream", main_w, main_h, args.fps, 2048,
                    "/Streaming/Channels/101", args.rtsp_port, args.main_stamp_id),
            Profile("Profile_2", "subStream", sub_w, sub_h, args.fps, 512,
                    "/Streaming/Channels/102", args.rtsp_port + 1, args.sub_stamp_id),
        ]
        host = args.stream_uri_host
        for p in self.profiles:
            if p.token in args.stream_uri:
                p.uri = args.stream_uri[p.token]
            elif host is not None:
                p.uri = f"rtsp://{host}{p.path}"
            else:
                p.uri = f"rtsp://{url_host(address)}:{p.port}{p.path}"

    def xaddr(self, path=DEVICE_PATH):
        return f"http://{url_host(self.address)}:{self.http_port}{path}"

    def now(self):
        return datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=self.clock_offset)

    def profile(self, token):
        for p in self.profiles:
            if p.token == token:
                return p
        raise Fault("Sender", ["InvalidArgVal", "NoProfile"], "The requested profile token does not exist")


def url_host(address):
    return f"[{address}]" if ":" in address else address


# --- WS-Security ------------------------------------------------------------------

class Nonces:
    """Nonces seen in the last NONCE_MEMORY seconds (replay protection).
    Shared by the HTTP threads: every field is protected by lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}

    def first_use(self, nonce):
        now = time.monotonic()
        with self.lock:
            for n, t in list(self.seen.items()):
                if now - t > NONCE_MEMORY:
                    del self.seen[n]
            if nonce in self.seen or len(self.seen) > 100000:
                return False
            self.seen[nonce] = now
            return True


class DigestNonces:
    """The HTTP Digest nonces this camera issued in the last NONCE_MEMORY
    seconds. Shared by the HTTP threads: every field is protected by lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.issued = {}

    def new(self):
        nonce = os.urandom(16).hex()
        now = time.monotonic()
        with self.lock:
            for n, t in list(self.issued.items()):
                if now - t > NONCE_MEMORY:
                    del self.issued[n]
            if len(self.issued) < 100000:
                self.issued[nonce] = now
        return nonce

    def valid(self, nonce):
        with self.lock:
            t = self.issued.get(nonce)
            return t is not None and time.monotonic() - t <= NONCE_MEMORY


DIGEST_REALM = "fake-onvif"
DIGEST_PARAM = re.compile(r'\s*([A-Za-z0-9-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)')


def check_http_digest(camera, nonces, method, uri, header):
    """None without an Authorization header, "HTTP Digest" when it is right
    (RFC 7616, MD5, qop auth or none), False when it is wrong."""
    if header is None:
        return None
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest" or camera.user is None:
        return False
    params = {}
    pos = 0
    while pos < len(rest):
        m = DIGEST_PARAM.match(rest, pos)
        if not m or m.end() == pos:
            return False
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
    if params.get("algorithm", "MD5").upper() != "MD5":
        return False
    for key in ("username", "realm", "nonce", "uri", "response"):
        if key not in params:
            return False
    if params["realm"] != DIGEST_REALM or params["uri"] != uri or not nonces.valid(params["nonce"]):
        return False

    def md5(text):
        return hashlib.md5(text.encode()).hexdigest()
    ha1 = md5(f"{camera.user}:{DIGEST_REALM}:{camera.password}")
    ha2 = md5(f"{method}:{params['uri']}")
    qop = params.get("qop")
    if qop is None:
        expected = md5(f"{ha1}:{params['nonce']}:{ha2}")
    elif qop == "auth" and "nc" in params and "cnonce" in params:
        expected = md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:{qop}:{ha2}")
    else:
        return False
    user_ok = hmac.compare_digest(params["username"].encode(), camera.user.encode())
    if not (hmac.compare_digest(params["response"].lower().encode(), expected.encode()) and user_ok):
        return False
    return "HTTP Digest"


def parse_created(text):
    text = text.strip()
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", text)
    if not m:
        return None
    try:
        tz = datetime.timezone.utc
        if m.group(8) and m.group(8) != "Z":
            sign = 1 if m.group(8)[0] == "+" else -1
            hours, minutes = int(m.group(8)[1:3]), int(m.group(8)[4:6])
            tz = datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
        return datetime.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)),
                                 int(m.group(4)), int(m.group(5)), int(m.group(6)), tzinfo=tz)
    except ValueError:
        return None


def check_token(camera, nonces, header):
    """The UsernameToken of the request's header: None when there is none,
    else how it authenticated ("PasswordDigest" or "PasswordText"); raises the
    NotAuthorized fault when it is wrong. The reason in the fault's .why is
    for the log: it never holds a secret."""
    status = camera.auth_fault_status
    token = None
    if header is not None:
        security = header.find(f"{{{NS_WSSE}}}Security")
        if security is not None:
            token = security.find(f"{{{NS_WSSE}}}UsernameToken")
            if token is None:
                raise not_authorized("a Security header without a UsernameToken", status)
    if token is None:
        return None
    if camera.user is None:
        return "unchecked"
    user = (token.findtext(f"{{{NS_WSSE}}}Username") or "").strip()
    password = token.find(f"{{{NS_WSSE}}}Password")
    if password is None:
        raise not_authorized("a UsernameToken without a Password", status)
    kind = password.get("Type", PASSWORD_TEXT)
    given = (password.text or "").strip()
    user_ok = hmac.compare_digest(user.encode(), camera.user.encode())
    if kind == PASSWORD_TEXT:
        if not camera.password_text:
            raise not_authorized("PasswordText is refused (--password-text refuse)", status)
        if not (hmac.compare_digest(given.encode(), camera.password.encode()) and user_ok):
            raise not_authorized("wrong user or password (PasswordText)", status)
        return "PasswordText"
    if kind != PASSWORD_DIGEST:
        raise not_authorized("an unknown password type", status)
    nonce_text = (token.findtext(f"{{{NS_WSSE}}}Nonce") or "").strip()
    created_text = token.findtext(f"{{{NS_WSU}}}Created")
    if created_text is None:
        # Some clients put Created in the wsse namespace.
        created_text = token.findtext(f"{{{NS_WSSE}}}Created")
    if not nonce_text or created_text is None:
        raise not_authorized("a PasswordDigest without Nonce or Created", status)
    try:
        nonce = base64.b64decode(nonce_text, validate=True)
    except (binascii.Error, ValueError):
        raise not_authorized("a Nonce that is not Base64", status) from None
    created = parse_created(created_text)
    if created is None:
        raise not_authorized("a Created that is not an xs:dateTime", status)
    skew = abs((created - camera.now()).total_seconds())
    if skew > CREATED_SKEW:
        raise not_authorized(f"Created is {skew:.0f} s away from the camera's clock", status)
    expected = base64.b64encode(hashlib.sha1(
        nonce + created_text.strip().encode() + camera.password.encode()).digest())
    if not (hmac.compare_digest(given.encode(), expected) and user_ok):
        raise not_authorized("wrong user or password (PasswordDigest)", status)
    if not nonces.first_use(nonce):
        raise not_authorized("a nonce used before (replay)", status)
    return "PasswordDigest"


# --- SOAP answers -----------------------------------------------------------------

def envelope(body, header=""):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<env:Envelope xmlns:env="{NS_ENV}" xmlns:tds="{NS_TDS}" xmlns:trt="{NS_TRT}" '
            f'xmlns:tt="{NS_TT}" xmlns:ter="{NS_TER}">'
            f'<env:Header>{header}</env:Header><env:Body>{body}</env:Body></env:Envelope>')


def fault_body(fault):
    sub = ""
    for code in reversed(fault.subcodes):
        sub = f"<env:Subcode><env:Value>ter:{code}</env:Value>{sub}</env:Subcode>"
    return (f"<env:Fault><env:Code><env:Value>env:{fault.code}</env:Value>{sub}</env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{escape(fault.reason)}</env:Text></env:Reason>'
            "</env:Fault>")


def t(name, value):
    return f"<tt:{name}>{escape(str(value))}</tt:{name}>"


def bool_text(b):
    return "true" if b else "false"


def date_time(dt):
    return ("<tt:Time>" + t("Hour", dt.hour) + t("Minute", dt.minute) + t("Second", dt.second) +
            "</tt:Time><tt:Date>" + t("Year", dt.year) + t("Month", dt.month) + t("Day", dt.day) +
            "</tt:Date>")


def op_get_system_date_and_time(camera, request):
    now = camera.now()
    return ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            + t("DateTimeType", "NTP") + t("DaylightSavings", "false")
            + "<tt:TimeZone>" + t("TZ", "UTC0") + "</tt:TimeZone>"
            + "<tt:UTCDateTime>" + date_time(now) + "</tt:UTCDateTime>"
            + "<tt:LocalDateTime>" + date_time(now) + "</tt:LocalDateTime>"
            + "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")


def device_capabilities(camera):
    return ("<tt:Device>" + t("XAddr", camera.xaddr()) +
            "<tt:Network>" + t("IPFilter", "false") + t("ZeroConfiguration", "false") +
            t("IPVersion6", "false") + t("DynDNS", "false") + "</tt:Network>"
            "<tt:System>" + t("DiscoveryResolve", "true") + t("DiscoveryBye", "true") +
            t("RemoteDiscovery", "false") + t("SystemBackup", "false") +
            t("SystemLogging", "false") + t("FirmwareUpgrade", "false") +
            "<tt:SupportedVersions>" + t("Major", 2) + t("Minor", 60) + "</tt:SupportedVersions>"
            "</tt:System>"
            "<tt:IO>" + t("InputConnectors", 0) + t("RelayOutputs", 0) + "</tt:IO>"
            "<tt:Security>" + t("TLS1.1", "false") + t("TLS1.2", "false") +
            t("OnboardKeyGeneration", "false") + t("AccessPolicyConfig", "false") +
            t("X.509Token", "false") + t("SAMLToken", "false") + t("KerberosToken", "false") +
            t("RELToken", "false") + "</tt:Security></tt:Device>")


def media_capabilities(camera):
    return ("<tt:Media>" + t("XAddr", camera.xaddr(MEDIA_PATH)) +
            "<tt:StreamingCapabilities>" + t("RTPMulticast", "false") + t("RTP_TCP", "true") +
            t("RTP_RTSP_TCP", "true") + "</tt:StreamingCapabilities></tt:Media>")


def op_get_capabilities(camera, request):
    categories = [c.text.strip() for c in request.findall(f"{{{NS_TDS}}}Category") if c.text]
    if not categories or "All" in categories:
        categories = ["Device", "Media"]
    parts = []
    for c in categories:
        if c == "Device":
            parts.append(device_capabilities(camera))
        elif c == "Media":
            parts.append(media_capabilities(camera))
        else:
            raise Fault("Receiver", ["ActionNotSupported", "NoSuchService"],
                        f"The device has no {c} service")
    return ("<tds:GetCapabilitiesResponse><tds:Capabilities>" + "".join(parts) +
            "</tds:Capabilities></tds:GetCapabilitiesResponse>")


def device_service_capabilities():
    return ('<tds:Capabilities><tds:Network IPFilter="false" ZeroConfiguration="false" '
            'IPVersion6="false" DynDNS="false" NTP="0" HostnameFromDHCP="false"/>'
            '<tds:Security TLS1.0="false" TLS1.1="false" TLS1.2="false" '
            'OnboardKeyGeneration="false" AccessPolicyConfig="false" DefaultAccessPolicy="false" '
            'Dot1X="false" RemoteUserHandling="false" X.509Token="false" SAMLToken="false" '
            'KerberosToken="false" UsernameToken="true" HttpDigest="false" RELToken="false"/>'
            '<tds:System DiscoveryResolve="true" DiscoveryBye="true" RemoteDiscovery="false" '
            'SystemBackup="false" SystemLogging="false" FirmwareUpgrade="false" '
            'HttpFirmwareUpgrade="false" HttpSystemBackup="false" HttpSystemLogging="false" '
            'HttpSupportInformation="false"/></tds:Capabilities>')


def media_service_capabilities():
    return ('<trt:Capabilities SnapshotUri="false" Rotation="false" VideoSourceMode="false" '
            'OSD="false"><trt:ProfileCapabilities MaximumNumberOfProfiles="2"/>'
            '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true" '
            'NonAggregateControl="false" NoRTSPStreaming="false"/></trt:Capabilities>')


def op_get_services(camera, request):
    include = (request.findtext(f"{{{NS_TDS}}}IncludeCapability") or "false").strip() in ("true", "1")
    services = [(NS_TDS, camera.xaddr(), device_service_capabilities()),
                (NS_TRT, camera.xaddr(MEDIA_PATH), media_service_capabilities())]
    out = []
    for namespace, xaddr, caps in services:
        out.append("<tds:Service>" f"<tds:Namespace>{escape(namespace)}</tds:Namespace>"
                   f"<tds:XAddr>{escape(xaddr)}</tds:XAddr>"
                   + (f"<tds:Capabilities>{caps}</tds:Capabilities>" if include else "")
                   + "<tds:Version>" + t("Major", 2) + t("Minor", 60) + "</tds:Version>"
                   "</tds:Service>")
    return "<tds:GetServicesResponse>" + "".join(out) + "</tds:GetServicesResponse>"


def op_device_service_capabilities(camera, request):
    return ("<tds:GetServiceCapabilitiesResponse>" + device_service_capabilities() +
            "</tds:GetServiceCapabilitiesResponse>")


def op_media_service_capabilities(camera, request):
    return ("<trt:GetServiceCapabilitiesResponse>" + media_service_capabilities() +
            "</trt:GetServiceCapabilitiesResponse>")


def op_get_device_information(camera, request):
    def tds(name, value):
        return f"<tds:{name}>{escape(value)}</tds:{name}>"
    return ("<tds:GetDeviceInformationResponse>" + tds("Manufacturer", camera.maker) +
            tds("Model", camera.model) + tds("FirmwareVersion", camera.firmware) +
            tds("SerialNumber", camera.serial) + tds("HardwareId", camera.hardware_id) +
            "</tds:GetDeviceInformationResponse>")


def op_get_network_interfaces(camera, request):
    return ('<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">' +
            t("Enabled", "true") + "<tt:Info>" + t("Name", "eth0") + t("HwAddress", camera.mac) +
            t("MTU", 1500) + "</tt:Info><tt:IPv4>" + t("Enabled", "true") + "<tt:Config>" +
            "<tt:FromDHCP>" + t("Address", camera.address) + t("PrefixLength", 24) +
            "</tt:FromDHCP>" + t("DHCP", "true") + "</tt:Config></tt:IPv4>"
            "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>")


def op_get_scopes(camera, request):
    return ("<tds:GetScopesResponse>" + "".join(
        "<tds:Scopes>" + t("ScopeDef", "Fixed") + t("ScopeItem", s) + "</tds:Scopes>"
        for s in camera.scopes) + "</tds:GetScopesResponse>")


def op_get_hostname(camera, request):
    return ("<tds:GetHostnameResponse><tds:HostnameInformation>" + t("FromDHCP", "false") +
            t("Name", camera.hostname) + "</tds:HostnameInformation></tds:GetHostnameResponse>")


def op_get_wsdl_url(camera, request):
    return ("<tds:GetWsdlUrlResponse><tds:WsdlUrl>http://www.onvif.org/</tds:WsdlUrl>"
            "</tds:GetWsdlUrlResponse>")


def video_source_configuration(camera, tag):
    main = camera.profiles[0]
    return (f'<{tag} token="VideoSourceConfig_1">' + t("Name", "VideoSourceConfig_1") +
            t("UseCount", len(camera.profiles)) + t("SourceToken", "VideoSource_1") +
            f'<tt:Bounds x="0" y="0" width="{main.width}" height="{main.height}"/></{tag}>')


def video_encoder_configuration(p, index, tag):
    return (f'<{tag} token="VideoEncoder_{index}">' + t("Name", f"VideoEncoder_{index}") +
            t("UseCount", 1) + t("Encoding", "H264") + "<tt:Resolution>" + t("Width", p.width) +
            t("Height", p.height) + "</tt:Resolution>" + t("Quality", 3) + "<tt:RateControl>" +
            t("FrameRateLimit", p.fps) + t("EncodingInterval", 1) + t("BitrateLimit", p.bitrate) +
            "</tt:RateControl><tt:H264>" + t("GovLength", p.fps) +
            t("H264Profile", "Baseline") + "</tt:H264><tt:Multicast><tt:Address>" +
            t("Type", "IPv4") + t("IPv4Address", "0.0.0.0") + "</tt:Address>" + t("Port", 0) +
            t("TTL", 1) + t("AutoStart", "false") + "</tt:Multicast>" +
            t("SessionTimeout", "PT60S") + f"</{tag}>")


def profile_xml(camera, p, tag):
    index = camera.profiles.index(p) + 1
    return (f'<{tag} token={quoteattr(p.token)} fixed="true">' + t("Name", p.name) +
            video_source_configuration(camera, "tt:VideoSourceConfiguration") +
            video_encoder_configuration(p, index, "tt:VideoEncoderConfiguration") + f"</{tag}>")


def op_get_profiles(camera, request):
    return ("<trt:GetProfilesResponse>" +
            "".join(profile_xml(camera, p, "trt:Profiles") for p in camera.profiles) +
            "</trt:GetProfilesResponse>")


def op_get_profile(camera, request):
    p = camera.profile((request.findtext(f"{{{NS_TRT}}}ProfileToken") or "").strip())
    return "<trt:GetProfileResponse>" + profile_xml(camera, p, "trt:Profile") + "</trt:GetProfileResponse>"


def op_get_video_sources(camera, request):
    main = camera.profiles[0]
    return ('<trt:GetVideoSourcesResponse><trt:VideoSources token="VideoSource_1">' +
            t("Framerate", main.fps) + "<tt:Resolution>" + t("Width", main.width) +
            t("Height", main.height) + "</tt:Resolution></trt:VideoSources>"
            "</trt:GetVideoSourcesResponse>")


def op_get_video_source_configurations(camera, request):
    return ("<trt:GetVideoSourceConfigurationsResponse>" +
            video_source_configuration(camera, "trt:Configurations") +
            "</trt:GetVideoSourceConfigurationsResponse>")


def op_get_video_encoder_configurations(camera, request):
    return ("<trt:GetVideoEncoderConfigurationsResponse>" +
            "".join(video_encoder_configuration(p, i + 1, "trt:Configurations")
                    for i, p in enumerate(camera.profiles)) +
            "</trt:GetVideoEncoderConfigurationsResponse>")


def op_get_stream_uri(camera, request):
    p = camera.profile((request.findtext(f"{{{NS_TRT}}}ProfileToken") or "").strip())
    setup = request.find(f"{{{NS_TRT}}}StreamSetup")
    stream = "RTP-Unicast"
    protocol = "RTSP"
    if setup is not None:
        stream = (setup.findtext(f"{{{NS_TT}}}Stream") or stream).strip()
        protocol = (setup.findtext(f"{{{NS_TT}}}Transport/{{{NS_TT}}}Protocol") or protocol).strip()
    if stream != "RTP-Unicast" or protocol not in ("RTSP", "UDP", "TCP"):
        raise Fault("Sender", ["InvalidArgVal", "InvalidStreamSetup"],
                    f"Stream {stream} over {protocol} is not supported")
    return ("<trt:GetStreamUriResponse><trt:MediaUri>" + t("Uri", p.uri) +
            t("InvalidAfterConnect", "false") + t("InvalidAfterReboot", "false") +
            t("Timeout", "PT60S") + "</trt:MediaUri></trt:GetStreamUriResponse>")


OPERATIONS = {
    (NS_TDS, "GetSystemDateAndTime"): op_get_system_date_and_time,
    (NS_TDS, "GetCapabilities"): op_get_capabilities,
    (NS_TDS, "GetServices"): op_get_services,
    (NS_TDS, "GetServiceCapabilities"): op_device_service_capabilities,
    (NS_TDS, "GetDeviceInformation"): op_get_device_information,
    (NS_TDS, "GetNetworkInterfaces"): op_get_network_interfaces,
    (NS_TDS, "GetScopes"): op_get_scopes,
    (NS_TDS, "GetHostname"): op_get_hostname,
    (NS_TDS, "GetWsdlUrl"): op_get_wsdl_url,
    (NS_TRT, "GetServiceCapabilities"): op_media_service_capabilities,
    (NS_TRT, "GetProfiles"): op_get_profiles,
    (NS_TRT, "GetProfile"): op_get_profile,
    (NS_TRT, "GetVideoSources"): op_get_video_sources,
    (NS_TRT, "GetVideoSourceConfigurations"): op_get_video_source_configurations,
    (NS_TRT, "GetVideoEncoderConfigurations"): op_get_video_encoder_configurations,
    (NS_TRT, "GetStreamUri"): op_get_stream_uri,
}


def split_tag(tag):
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def answer_soap(camera, nonces, data, http_auth=None):
    """(HTTP status, body, log line) for one SOAP request; @http_auth: what
    check_http_digest said of its Authorization header. A 401 is to be sent
    with a Digest challenge."""
    if camera.http_digest and camera.user is not None and http_auth != "HTTP Digest" \
            and not data.strip():
        # curl --digest and others first send no body, to get the challenge.
        fault = not_authorized("no credentials: Digest challenge", 401)
        return 401, envelope(fault_body(fault)), f"empty body: {fault.why}"
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return 400, envelope(fault_body(Fault("Sender", ["WellFormed"], "Malformed XML"))), \
            f"malformed XML ({e})"
    if split_tag(root.tag) != (NS_ENV, "Envelope"):
        fault = Fault("VersionMismatch", [], "Not a SOAP 1.2 envelope", 400)
        return 400, envelope(fault_body(fault)), "not a SOAP 1.2 envelope"
    header = root.find(f"{{{NS_ENV}}}Header")
    body = root.find(f"{{{NS_ENV}}}Body")
    request = body[0] if body is not None and len(body) > 0 else None
    if request is None:
        return 400, envelope(fault_body(Fault("Sender", ["InvalidArgVal"], "Empty body"))), "empty body"
    namespace, name = split_tag(request.tag)
    try:
        # A camera that speaks only HTTP Digest ignores WS-Security headers.
        auth = check_token(camera, nonces, header) if camera.wsse else None
        if camera.http_digest and camera.user is not None:
            if http_auth is False:
                raise not_authorized("wrong HTTP Digest credentials", 401)
            auth = auth or http_auth
        if camera.user is not None and auth is None:
            open_ops = {"GetSystemDateAndTime"} if camera.strict_auth else PRE_AUTH
            if name not in open_ops or namespace != NS_TDS:
                if camera.http_digest:
                    raise not_authorized("no credentials: Digest challenge", 401)
                raise not_authorized("no UsernameToken", camera.auth_fault_status)
        operation = OPERATIONS.get((namespace, name))
        if operation is None:
            # What a camera answers for an operation it does not offer
            # (ONVIF Core, ter:ActionNotSupported).
            raise Fault("Receiver", ["ActionNotSupported"],
                        f"This device does not offer {name}")
        return 200, envelope(operation(camera, request)), \
            f"{name}: ok ({auth or 'no token'})"
    except Fault as fault:
        why = getattr(fault, "why", fault.reason)
        return fault.status, envelope(fault_body(fault)), \
            f"{name}: {fault.code}/{'/'.join(fault.subcodes)} ({why})"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-onvif"
    sys_version = ""
    timeout = 30

    def log_message(self, format, *args):
        pass  # one line per request is ours, below

    def send(self, status, body, content_type="application/soap+xml; charset=utf-8",
             challenge=None):
        data = body.encode()
        self.send_response(status)
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        log(f"{self.client_address[0]} GET {self.path[:80]!r}: 405")
        self.send(405, "only SOAP requests (POST) here\n", "text/plain")

    do_HEAD = do_GET

    def do_POST(self):
        server = self.server
        path = urllib.parse.urlsplit(self.path).path
        if path not in (DEVICE_PATH, MEDIA_PATH):
            log(f"{self.client_address[0]} POST {self.path[:80]!r}: 404")
            self.send(404, "not found\n", "text/plain")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            log(f"{self.client_address[0]} POST {path}: 411 (no Content-Length)")
            self.send(411, "a Content-Length is needed\n", "text/plain")
            self.close_connection = True
            return
        if length < 0 or length > MAX_REQUEST:
            log(f"{self.client_address[0]} POST {path}: 413 ({length} bytes)")
            self.send(413, "too large\n", "text/plain")
            self.close_connection = True
            return
        data = self.rfile.read(length)
        http_auth = None
        if server.camera.http_digest:
            http_auth = check_http_digest(server.camera, server.digest_nonces, "POST", self.path,
                                          self.headers.get("Authorization"))
        status, body, what = answer_soap(server.camera, server.nonces, data, http_auth)
        log(f"{self.client_address[0]} POST {path} {what}: {status}")
        challenge = None
        if status == 401 and server.camera.http_digest:
            challenge = (f'Digest realm="{DIGEST_REALM}", qop="auth", '
                         f'nonce="{server.digest_nonces.new()}", algorithm=MD5')
        self.send(status, body, challenge=challenge)


class HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, camera):
        self.camera = camera
        self.nonces = Nonces()
        self.digest_nonces = DigestNonces()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, Handler)


# --- WS-Discovery -----------------------------------------------------------------

class Discovery:
    """SOAP-over-UDP on one interface: main thread only."""

    def __init__(self, camera, hello, ipv6):
        self.camera = camera
        self.instance_id = int(time.time())
        self.message_number = 0
        self.send_hello = hello
        # [(socket, its group's address)]: IPv4, then IPv6 with --ipv6.
        self.sockets = []
        ifindex = socket.if_nametoindex(camera.interface)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self.sockets.append((sock, (WSD_GROUP, WSD_PORT)))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", WSD_PORT))
        mreqn = struct.pack("4s4si", socket.inet_aton(WSD_GROUP),
                            socket.inet_aton(camera.address), ifindex)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        if ipv6:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            self.sockets.append((sock, (WSD_GROUP6, WSD_PORT, 0, ifindex)))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(("::", WSD_PORT))
            mreq = struct.pack("16sI", socket.inet_pton(socket.AF_INET6, WSD_GROUP6), ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)

    def close(self):
        for sock, _ in self.sockets:
            sock.close()

    def _headers(self, action, relates_to=None, to=WSD_TO):
        self.message_number += 1
        h = (f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
             + (f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>" if relates_to else "")
             + f"<wsa:To>{escape(to)}</wsa:To>"
             + f"<wsa:Action>{NS_WSD}/{action}</wsa:Action>"
             + f'<wsd:AppSequence InstanceId="{self.instance_id}" '
             f'MessageNumber="{self.message_number}"/>')
        return h

    def _envelope(self, header, body):
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{NS_ENV}" xmlns:wsa="{NS_WSA}" '
                f'xmlns:wsd="{NS_WSD}" xmlns:dn="{NS_DN}" xmlns:tds="{NS_TDS}">'
                f"<SOAP-ENV:Header>{header}</SOAP-ENV:Header>"
                f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>").encode()

    def _description(self):
        c = self.camera
        return (f"<wsa:EndpointReference><wsa:Address>urn:uuid:{c.uuid}</wsa:Address>"
                "</wsa:EndpointReference>"
                "<wsd:Types>dn:NetworkVideoTransmitter tds:Device</wsd:Types>"
                f"<wsd:Scopes>{escape(' '.join(c.scopes))}</wsd:Scopes>"
                f"<wsd:XAddrs>{escape(c.xaddr())}</wsd:XAddrs>"
                "<wsd:MetadataVersion>1</wsd:MetadataVersion>")

    def _multicast(self, message, what):
        # SOAP-over-UDP: a multicast message is sent, then repeated once
        # (MULTICAST_UDP_REPEAT) after a short random delay.
        for i in range(2):
            for sock, group in self.sockets:
                try:
                    sock.sendto(message, group)
                except OSError as e:
                    log(f"WS-Discovery: cannot send {what} to {group[0]}: {e}")
                    return
            if i == 0:
                time.sleep(random.uniform(0.05, 0.25))
        log(f"WS-Discovery: sent {what}")

    def hello(self):
        body = f"<wsd:Hello>{self._description()}</wsd:Hello>"
        self._multicast(self._envelope(self._headers("Hello"), body), "Hello")

    def bye(self):
        c = self.camera
        body = (f"<wsd:Bye><wsa:EndpointReference><wsa:Address>urn:uuid:{c.uuid}</wsa:Address>"
                "</wsa:EndpointReference></wsd:Bye>")
        self._multicast(self._envelope(self._headers("Bye"), body), "Bye")

    def receive(self, sock):
        try:
            data, peer = sock.recvfrom(MAX_REQUEST + 1)
        except OSError:
            return
        if len(data) > MAX_REQUEST:
            log(f"WS-Discovery: {peer[0]}: datagram too large, ignored")
            return
        try:
            message = parse_discovery(data)
        except ValueError as e:
            log(f"WS-Discovery: {peer[0]}: ignored: {e}")
            return
        action = message["action"]
        if action == f"{NS_WSD}/Probe":
            self.on_probe(sock, message, peer)
        elif action == f"{NS_WSD}/Resolve":
            self.on_resolve(sock, message, peer)
        elif action.startswith(NS_WSD + "/"):
            pass  # Hello, Bye, matches of others: not for us
        else:
            log(f"WS-Discovery: {peer[0]}: ignored action {action[:100]!r}")

    def on_probe(self, sock, message, peer):
        c = self.camera
        types = message["types"]
        unknown = types - OUR_TYPES
        if unknown:
            log(f"WS-Discovery: {peer[0]}:{peer[1]} Probe for other types "
                f"({', '.join(sorted(n + ':' + l for n, l in unknown))[:200]}): no match")
            return
        if not scopes_match(message["scopes"], message["match_by"], c.scopes):
            log(f"WS-Discovery: {peer[0]}:{peer[1]} Probe for other scopes: no match")
            return
        # APP_MAX_DELAY is 500 ms; a short one keeps tests quick.
        time.sleep(random.uniform(0, 0.05))
        body = (f"<wsd:ProbeMatches><wsd:ProbeMatch>{self._description()}</wsd:ProbeMatch>"
                "</wsd:ProbeMatches>")
        reply = self._envelope(self._headers("ProbeMatches", message["message_id"],
                                             WSA_ANONYMOUS), body)
        try:
            sock.sendto(reply, peer)
        except OSError as e:
            log(f"WS-Discovery: cannot answer {peer[0]}:{peer[1]}: {e}")
            return
        log(f"WS-Discovery: {peer[0]}:{peer[1]} Probe "
            f"({'types ' + ' '.join(sorted(l for _, l in types)) if types else 'no types'}): "
            "ProbeMatch sent")

    def on_resolve(self, sock, message, peer):
        if message["endpoint"] != f"urn:uuid:{self.camera.uuid}":
            return
        body = (f"<wsd:ResolveMatches><wsd:ResolveMatch>{self._description()}"
                "</wsd:ResolveMatch></wsd:ResolveMatches>")
        reply = self._envelope(self._headers("ResolveMatches", message["message_id"],
                                             WSA_ANONYMOUS), body)
        try:
            sock.sendto(reply, peer)
        except OSError as e:
            log(f"WS-Discovery: cannot answer {peer[0]}:{peer[1]}: {e}")
            return
        log(f"WS-Discovery: {peer[0]}:{peer[1]} Resolve: ResolveMatch sent")


def parse_discovery(data):
    """The parts of a WS-Discovery message that matter here; Types as
    (namespace, local name) pairs, their prefixes resolved where they stand.
    Raises ValueError for what is not a SOAP 1.2 WS-Discovery message."""
    parser = ET.XMLPullParser(events=("start-ns", "end-ns", "start", "end"))
    prefixes = [{"xml": "http://www.w3.org/XML/1998/namespace"}]
    pending = {}
    message = {"action": "", "message_id": "", "types": set(), "scopes": [],
               "match_by": RFC3986, "endpoint": ""}
    path = []
    try:
        parser.feed(data)
        parser.close()
        events = list(parser.read_events())
    except ET.ParseError as e:
        raise ValueError(f"malformed XML ({e})") from None
    for event, item in events:
        if event == "start-ns":
            prefix, uri = item
            pending[prefix] = uri
        elif event == "start":
            scope = dict(prefixes[-1])
            scope.update(pending)
            pending = {}
            prefixes.append(scope)
            path.append(split_tag(item.tag))
        elif event == "end":
            scope = prefixes.pop()
            name = path.pop()
            text = (item.text or "").strip()
            if name == (NS_WSA, "Action"):
                message["action"] = text
            elif name == (NS_WSA, "MessageID"):
                message["message_id"] = text
            elif name == (NS_WSD, "Types"):
                for qname in text.split():
                    prefix, _, local = qname.rpartition(":")
                    if prefix not in scope and prefix != "":
                        raise ValueError(f"type {qname[:80]!r} has an unknown prefix")
                    message["types"].add((scope.get(prefix, ""), local))
            elif name == (NS_WSD, "Scopes"):
                message["scopes"] = text.split()
                message["match_by"] = item.get("MatchBy", RFC3986)
            elif name == (NS_WSA, "Address") and path and path[-1] == (NS_WSA, "EndpointReference"):
                message["endpoint"] = text
        if len(path) > 32:
            raise ValueError("nested too deeply")
    first = next((item for event, item in events if event == "start"), None)
    if first is None or split_tag(first.tag) != (NS_ENV, "Envelope"):
        raise ValueError("not a SOAP 1.2 envelope")
    return message


def scopes_match(wanted, match_by, ours):
    """WS-Discovery 2005/04 5.1: every wanted scope matches one of ours; RFC
    3986 matching compares scheme and authority case-insensitively and the
    path segment by segment as a prefix; strcmp0 exactly."""
    if not wanted:
        return True
    if match_by == "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0":
        return all(w in ours for w in wanted)
    if match_by != RFC3986:
        return False

    def split(uri):
        u = urllib.parse.urlsplit(uri)
        return (u.scheme.lower(), u.netloc.lower(),
                [s for s in u.path.split("/") if s])

    for w in wanted:
        ws, wa, wp = split(w)
        if not any(ws == s and wa == a and p[:len(wp)] == wp
                   for s, a, p in map(split, ours)):
            return False
    return True


# --- the RTSP streams -------------------------------------------------------------

def die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Streams:
    """The fake-camera processes: main thread only."""

    def __init__(self):
        self.processes = []
        self.dir = tempfile.mkdtemp(prefix="fake-onvif-")

    def start(self, binary, camera, args):
        for p in camera.profiles:
            ready = os.path.join(self.dir, f"{p.token}.ready")
            argv = [binary, "--address", camera.address, "--port", str(p.port),
                    "--mount", p.path, "--width", str(p.width), "--height", str(p.height),
                    "--fps", str(p.fps), "--key-int", str(p.fps), "--bitrate", str(p.bitrate),
                    "--stamp-id", p.stamp_id, "--ready-file", ready]
            if camera.user is not None:
                argv += ["--user", camera.user, "--password-file", args.password_file]
            argv += args.camera_arg
            # They die with this process, even when it is killed outright.
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    preexec_fn=die_with_parent)
            self.processes.append((p, proc, ready))
        deadline = time.monotonic() + 30
        for p, proc, ready in self.processes:
            while not (os.path.exists(ready) and os.path.getsize(ready) > 0):
                if proc.poll() is not None:
                    raise RuntimeError(f"the {p.name} fake camera exited with {proc.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the {p.name} fake camera did not start within 30 s")
                time.sleep(0.05)

    def dead(self):
        for p, proc, _ in self.processes:
            if proc.poll() is not None:
                return f"the {p.name} fake camera exited with {proc.returncode}"
        return None

    def stop(self):
        for _, proc, _ in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for _, proc, _ in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- set-up -----------------------------------------------------------------------

def interfaces():
    """[(name, [IPv4 addresses])] from `ip -j -4 addr`."""
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True,
                         check=True).stdout
    return [(i["ifname"], [a["local"] for a in i.get("addr_info", []) if "local" in a])
            for i in json.loads(out)]


def resolve_interface(args):
    if args.interface is None and args.address is None:
        raise UsageError("give --interface or --address")
    if args.address is not None:
        try:
            ip = ipaddress.ip_address(args.address)
        except ValueError:
            raise UsageError(f"--address must be an IP address, not {args.address!r}") from None
        if ip.version != 4 or ip.is_unspecified:
            raise UsageError("--address must be one IPv4 address of this host (not 0.0.0.0)")
    found = interfaces()
    if args.interface is not None:
        addresses = dict(found).get(args.interface)
        if addresses is None:
            raise UsageError(f"no interface {args.interface!r}")
        if args.address is None:
            if not addresses:
                raise UsageError(f"interface {args.interface!r} has no IPv4 address")
            return args.interface, addresses[0]
        if args.address not in addresses:
            raise UsageError(f"{args.address} is not an address of {args.interface}")
        return args.interface, args.address
    for name, addresses in found:
        if args.address in addresses:
            return name, args.address
    raise UsageError(f"{args.address} is not an address of this host")


def read_mac(interface):
    try:
        with open(f"/sys/class/net/{interface}/address") as f:
            return f.read().strip()
    except OSError:
        return "00:00:00:00:00:00"


def size(text):
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m or not (16 <= int(m.group(1)) <= 4096 and 16 <= int(m.group(2)) <= 4096) \
            or int(m.group(1)) % 2 or int(m.group(2)) % 2:
        raise argparse.ArgumentTypeError(f"a size like 1280x720 (even, 16 to 4096), not {text!r}")
    return int(m.group(1)), int(m.group(2))


def a_uuid(text):
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a UUID, not {text!r}") from None


def a_mac(text):
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", text):
        raise argparse.ArgumentTypeError(f"a MAC address like 02:00:00:aa:bb:cc, not {text!r}")
    return text.lower()


def a_port(text):
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"a port (0 to 65535), not {text!r}")
    return n


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_args(argv):
    p = ArgumentParser(prog="fake-onvif.py",
                                description="A fake ONVIF camera for tests (see the top of the file).")
    p.add_argument("--interface", help="the interface to serve (default: the one of --address)")
    p.add_argument("--address", help="the IPv4 address to serve on (default: --interface's first)")
    p.add_argument("--http-port", type=a_port, default=80, help="device and media service port (default 80)")
    p.add_argument("--uuid", type=a_uuid, default=None, help="endpoint reference urn:uuid:UUID (default random)")
    p.add_argument("--serial", default=None, help="serial number (default random)")
    p.add_argument("--mac", type=a_mac, default=None, help="HwAddress (default: the interface's)")
    p.add_argument("--maker", default="Hearth", help="Manufacturer and the name/ scope")
    p.add_argument("--model", default="FakeCam-ONVIF", help="Model and the hardware/ scope")
    p.add_argument("--firmware", default="V1.0.0 build 260101", help="FirmwareVersion")
    p.add_argument("--hardware-id", default="88", help="HardwareId")
    p.add_argument("--hostname", default="fakecam", help="GetHostname's name")
    p.add_argument("--scope", action="append", default=[], help="one more scope URI (repeatable)")
    p.add_argument("--user", help="require WS-Security (and RTSP) authentication as this user")
    p.add_argument("--password-file", help="the password of --user: this file's first line")
    p.add_argument("--password-text", choices=["accept", "refuse"], default="accept",
                   help="PasswordText tokens (default accept, as most cameras)")
    p.add_argument("--auth", choices=["wsse", "http-digest", "both"], default="wsse",
                   help="WS-Security tokens, HTTP Digest, or either (default wsse)")
    p.add_argument("--strict-auth", action="store_true",
                   help="require a token for all but GetSystemDateAndTime")
    p.add_argument("--auth-fault-status", type=int, choices=[400, 401], default=400,
                   help="HTTP status of the NotAuthorized fault (default 400)")
    p.add_argument("--clock-offset", type=float, default=0.0,
                   help="the camera's clock is this many seconds ahead")
    p.add_argument("--fake-camera", help="the fake-camera binary: start the two RTSP streams")
    p.add_argument("--rtsp-port", type=a_port, default=554, help="main stream's RTSP port; sub: +1")
    p.add_argument("--main-size", type=size, default=(1280, 720))
    p.add_argument("--sub-size", type=size, default=(640, 360))
    p.add_argument("--fps", type=int, default=15, choices=range(1, 61), metavar="N")
    p.add_argument("--main-stamp-id", type=a_uuid, default=None)
    p.add_argument("--sub-stamp-id", type=a_uuid, default=None)
    p.add_argument("--camera-arg", action="append", default=[],
                   help="an argument for both fake-camera processes (repeatable)")
    p.add_argument("--stream-uri-host", help="HOST[:PORT] put into every stream URI")
    p.add_argument("--stream-uri", action="append", default=[], metavar="TOKEN=URL",
                   help="answer URL as it is for profile TOKEN (repeatable)")
    p.add_argument("--no-discovery", action="store_true", help="no WS-Discovery at all")
    p.add_argument("--no-hello", action="store_true", help="no Hello at start (Probe is answered)")
    p.add_argument("--ipv6", action="store_true",
                   help="WS-Discovery on [ff02::c]:3702 too (the interface needs IPv6)")
    p.add_argument("--ready-file", help="also write the ready line here")
    args = p.parse_args(argv)
    args.uuid = args.uuid or str(uuid.uuid4())
    args.serial = args.serial or "FC" + "".join(random.choice("0123456789") for _ in range(10))
    args.main_stamp_id = args.main_stamp_id or str(uuid.uuid4())
    args.sub_stamp_id = args.sub_stamp_id or str(uuid.uuid4())
    if (args.user is None) != (args.password_file is None):
        raise UsageError("--user and --password-file go together")
    if args.user is not None and (not args.user or ":" in args.user):
        raise UsageError("--user must be a non-empty name without “:”")
    if args.rtsp_port == 65535 or (args.rtsp_port == 0 and args.fake_camera):
        raise UsageError("--rtsp-port must leave room for the sub stream (port + 1), and not be 0")
    uris = {}
    for item in args.stream_uri:
        token, sep, url = item.partition("=")
        if not sep or token not in ("Profile_1", "Profile_2"):
            raise UsageError(f"--stream-uri wants Profile_1=URL or Profile_2=URL, not {item!r}")
        uris[token] = url
    args.stream_uri = uris
    return args


def read_password(path):
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--password-file: cannot read it ({e.__class__.__name__})") from None
    if not line:
        raise UsageError("--password-file must start with a non-empty line")
    return line


def main(argv):
    try:
        args = parse_args(argv)
        interface, address = resolve_interface(args)
        camera = Camera(args, address, interface, args.mac or read_mac(interface))
        if args.user is not None:
            camera.password = read_password(args.password_file)
    except UsageError as e:
        print(f"fake-onvif: {e}", file=sys.stderr)
        return EX_USAGE

    try:
        server = HTTPServer((address, args.http_port), camera)
    except OSError as e:
        print(f"fake-onvif: cannot listen on {address} port {args.http_port}: {e.strerror}",
              file=sys.stderr)
        return EX_UNAVAILABLE
    camera.http_port = server.server_address[1]

    # Signals wake the main loop through a pipe (set_wakeup_fd).
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop.append("SIGINT"))

    streams = Streams()
    discovery = None
    http_thread = None
    status = 0
    try:
        if args.fake_camera:
            try:
                streams.start(args.fake_camera, camera, args)
            except (OSError, RuntimeError) as e:
                print(f"fake-onvif: cannot start the RTSP streams: {e}", file=sys.stderr)
                return EX_UNAVAILABLE
        http_thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
        http_thread.start()
        if not args.no_discovery:
            try:
                discovery = Discovery(camera, not args.no_hello, args.ipv6)
            except OSError as e:
                print(f"fake-onvif: cannot serve WS-Discovery on {interface}: {e.strerror}",
                      file=sys.stderr)
                return EX_UNAVAILABLE
            if discovery.send_hello:
                discovery.hello()
        main_p, sub_p = camera.profiles
        line = (f"{camera.xaddr()} uuid={camera.uuid} main={main_p.uri} sub={sub_p.uri} "
                f"main-stamp-id={main_p.stamp_id} sub-stamp-id={sub_p.stamp_id}")
        if args.ready_file:
            tmp = args.ready_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(line + "\n")
            os.replace(tmp, args.ready_file)
        print(line, flush=True)
        log(f"serving {camera.maker} {camera.model} on {address} ({interface}), "
            f"HTTP port {camera.http_port}" + (", WS-Discovery" if discovery else ""))

        selector = selectors.DefaultSelector()
        selector.register(wake_r, selectors.EVENT_READ, "wake")
        for sock, _ in discovery.sockets if discovery else []:
            selector.register(sock, selectors.EVENT_READ, sock)
        while not stop:
            for key, _ in selector.select(timeout=0.5):
                if key.data == "wake":
                    os.read(wake_r, 512)
                elif not stop:
                    discovery.receive(key.data)
            dead = streams.dead()
            if dead:
                log(dead)
                status = EX_SOFTWARE
                break
        if stop:
            log(f"{stop[0]}: stopping")
        if discovery:
            discovery.bye()
        return status
    finally:
        if http_thread is not None:
            server.shutdown()
        server.server_close()
        streams.stop()
        if discovery:
            discovery.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
