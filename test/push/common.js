// Shared plumbing of the push test endpoints (fake-sns.js, webhook.js): the
// command line, the listeners, the control API, fault modes and records.
//
// Each fake is one process with two listeners on 127.0.0.1: the data port,
// which plays the remote endpoint (plain HTTP, or HTTPS with a self-signed
// certificate made by openssl at start), and a plain-HTTP control port that
// tests drive.  The control API is also served on the data port when it is
// plain HTTP, but the control port stays reachable while the data port is
// refusing connections or speaking TLS.  Once both listen, the process prints
// exactly one JSON line on stdout, e.g.
//   {"port":41234,"control_port":41235,"url":"http://127.0.0.1:41234",...}
// and nothing else ever goes to stdout; diagnostics go to stderr and never
// carry a secret.  SIGTERM and SIGINT close everything and exit 0.
//
// Node runs one thread, so no locking: every handler sees and updates the
// state between two awaits only.
'use strict';

const { execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const os = require('os');
const path = require('path');

const HOST = '127.0.0.1';
// Bodies beyond this are cut off with 413: no real request of a push test
// comes near it, and a runaway client must not exhaust memory.
const MAX_BODY = 16 * 1024 * 1024;

// parseArgs(argv): "PORT [--tls] [--control-port N]"; PORT 0 picks a free one.
function parseArgs(argv, usage) {
    const opts = { port: null, tls: false, controlPort: 0 };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--tls') {
            opts.tls = true;
        } else if (a === '--control-port' && i + 1 < argv.length) {
            opts.controlPort = parsePort(argv[++i], usage);
        } else if (opts.port === null && /^\d+$/.test(a)) {
            opts.port = parsePort(a, usage);
        } else {
            fail(usage);
        }
    }
    if (opts.port === null) {
        fail(usage);
    }
    return opts;
}

function parsePort(s, usage) {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
        fail(usage);
    }
    return n;
}

function fail(msg) {
    process.stderr.write(msg + '\n');
    process.exit(2);
}

function log(msg) {
    process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

// A self-signed certificate for 127.0.0.1 and localhost, valid for a day; the
// certificate is its own CA, so clients verify against cert.pem.
function makeCertificate() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgmsg-push-fake-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-nodes', '-keyout', key, '-out', cert, '-days', '1',
        '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-addext', 'basicConstraints=critical,CA:TRUE',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { dir, key, cert };
}

// readBody(req): the whole body as a Buffer, or null when it exceeds MAX_BODY.
function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        let over = false;
        req.on('data', (c) => {
            size += c.length;
            if (size > MAX_BODY) {
                over = true;
            } else {
                chunks.push(c);
            }
        });
        req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
        req.on('error', reject);
    });
}

function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

function sendJson(res, status, obj) {
    const body = JSON.stringify(obj);
    res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
}

// Fault modes, one default and any number keyed by a topic ARN or a URL path.
// A mode is an object {mode, ...parameters}; "times" makes it apply to that
// many requests (or failed entries, for partial) and then lapse, so a test can
// say "throttle twice, then accept".
class Modes {
    constructor(known) {
        this.known = known;
        this.reset();
    }

    reset() {
        this.byKey = new Map();
        this.fallback = { mode: 'ok' };
    }

    // set(spec): spec.key selects the keyed mode (absent: the default);
    // mode null drops a keyed mode.  Returns an error string or null.
    set(key, spec) {
        if (spec.mode === null && key !== undefined) {
            this.byKey.delete(key);
            return null;
        }
        const m = { ...spec };
        if (m.mode === 'latency') {
            m.mode = 'ok';
        }
        if (!this.known.includes(m.mode)) {
            return `unknown mode "${spec.mode}"; known: ${this.known.join(', ')}, latency`;
        }
        for (const k of ['latency_ms', 'times', 'every', 'retry_after']) {
            if (m[k] !== undefined && !(Number.isInteger(m[k]) && m[k] >= 0)) {
                return `"${k}" must be a non-negative integer`;
            }
        }
        if (m.status !== undefined && !(Number.isInteger(m.status) && m.status >= 200 && m.status <= 599)) {
            return '"status" must be an HTTP status from 200 to 599';
        }
        if (m.mode === 'status' && m.status === undefined) {
            return 'mode "status" needs a "status"';
        }
        if (key === undefined) {
            this.fallback = m;
        } else {
            this.byKey.set(key, m);
        }
        return null;
    }

    get(key) {
        if (key !== undefined && this.byKey.has(key)) {
            return this.byKey.get(key);
        }
        return this.fallback;
    }

    // One more use of mode m; a mode whose "times" runs out goes back to ok.
    use(m) {
        if (m.times === undefined) {
            return;
        }
        m.times -= 1;
        if (m.times <= 0) {
            for (const [k, v] of this.byKey) {
                if (v === m) {
                    this.byKey.delete(k);
                }
            }
            if (this.fallback === m) {
                this.fallback = { mode: 'ok', latency_ms: m.latency_ms };
            }
        }
    }

    toJSON() {
        return { default: this.fallback, keyed: Object.fromEntries(this.byKey) };
    }
}

// A fake: the listeners, the control API around the fake's own handlers and
// the bookkeeping of hung requests.
//
// handlers: {name, usage, modes: [names], keyName: 'topic' | 'path',
//            handle(req, res, body), state(), reset(), configure(obj) -> err}
class Fake {
    constructor(handlers) {
        this.h = handlers;
        this.modes = new Modes(handlers.modes);
        this.counts = {};
        this.requestSeq = 0;
        this.hung = new Set();
        this.sockets = new Set();
        this.dataSockets = new Set();
        this.refusing = false;
    }

    count(outcome) {
        this.counts[outcome] = (this.counts[outcome] || 0) + 1;
    }

    nextRequest() {
        this.requestSeq += 1;
        return this.requestSeq;
    }

    async start(argv) {
        this.opts = parseArgs(argv, this.h.usage);
        const onData = (req, res) => this.onData(req, res);
        if (this.opts.tls) {
            this.cert = makeCertificate();
            this.data = https.createServer({
                key: fs.readFileSync(this.cert.key),
                cert: fs.readFileSync(this.cert.cert),
            }, onData);
        } else {
            this.data = http.createServer(onData);
        }
        this.control = http.createServer((req, res) => this.onControl(req, res));
        for (const s of [this.data, this.control]) {
            const mine = s === this.data ? this.dataSockets : null;
            s.on('connection', (sock) => {
                this.sockets.add(sock);
                if (mine) {
                    mine.add(sock);
                }
                sock.on('close', () => {
                    this.sockets.delete(sock);
                    if (mine) {
                        mine.delete(sock);
                    }
                });
            });
            // A hung request must not be ended by Node's own timeouts.
            s.requestTimeout = 0;
            s.headersTimeout = 0;
            s.keepAliveTimeout = 5000;
        }
        this.port = await listen(this.data, this.opts.port);
        this.controlPort = await listen(this.control, this.opts.controlPort);
        const info = {
            port: this.port,
            control_port: this.controlPort,
            url: this.baseUrl(),
            control_url: `http://${HOST}:${this.controlPort}`,
        };
        if (this.cert) {
            info.ca_file = this.cert.cert;
        }
        process.stdout.write(JSON.stringify(info) + '\n');
        const stop = () => this.stop();
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        log(`${this.h.name} listening on ${info.url}, control on ${info.control_url}`);
    }

    baseUrl() {
        return `${this.opts.tls ? 'https' : 'http'}://${HOST}:${this.port}`;
    }

    stop() {
        for (const s of [this.data, this.control]) {
            s.close();
        }
        for (const sock of this.sockets) {
            sock.destroy();
        }
        if (this.cert) {
            fs.rmSync(this.cert.dir, { recursive: true, force: true });
        }
        process.exit(0);
    }

    // Stop accepting on the data port and drop its connections, as a server
    // that went away would; the control port stays.
    refuse() {
        if (this.refusing) {
            return;
        }
        this.refusing = true;
        this.data.close();
        for (const sock of this.dataSockets) {
            sock.destroy();
        }
    }

    async unrefuse() {
        if (!this.refusing) {
            return;
        }
        this.refusing = false;
        await listen(this.data, this.port);
    }

    async onData(req, res) {
        try {
            if (!this.opts.tls && req.url.startsWith('/_control')) {
                await this.onControl(req, res);
                return;
            }
            const body = await readBody(req);
            if (body === null) {
                this.count('too_large');
                res.writeHead(413, { Connection: 'close' });
                res.end();
                return;
            }
            await this.h.handle(req, res, body);
        } catch (e) {
            log(`${this.h.name}: ${e.stack || e}`);
            if (!res.headersSent) {
                res.writeHead(500);
            }
            res.end();
        }
    }

    // hang(req, res, key, onRelease): keep the request open without an answer
    // until the mode for key stops being "hang" (then onRelease answers it as
    // the new mode says) or the client closes the connection.
    hang(req, res, onRelease) {
        return new Promise((resolve) => {
            const h = { release: async () => {
                this.hung.delete(h);
                try {
                    await onRelease();
                } finally {
                    resolve();
                }
            } };
            this.hung.add(h);
            res.on('close', () => {
                if (this.hung.has(h)) {
                    this.hung.delete(h);
                    this.count('abandoned');
                    resolve();
                }
            });
        });
    }

    releaseHung() {
        for (const h of [...this.hung]) {
            h.release();
        }
    }

    // A fault that drops the connection without an answer.
    drop(req, res) {
        res.socket.destroy();
    }

    async onControl(req, res) {
        const url = new URL(req.url, 'http://x');
        const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
        let body = {};
        if (req.method === 'POST') {
            const raw = await readBody(req);
            if (raw === null) {
                sendJson(res, 413, { error: 'control request too large' });
                return;
            }
            if (raw.length > 0) {
                try {
                    body = JSON.parse(raw.toString('utf8'));
                } catch (e) {
                    sendJson(res, 400, { error: `control body is not JSON: ${e.message}` });
                    return;
                }
            }
            if (body === null || typeof body !== 'object' || Array.isArray(body)) {
                sendJson(res, 400, { error: 'control body must be a JSON object' });
                return;
            }
        }
        switch (route) {
            case 'GET /_control':
            case 'GET /_control/health':
                sendJson(res, 200, { ok: true, name: this.h.name, refusing: this.refusing });
                return;
            case 'GET /_control/received':
                sendJson(res, 200, { ...this.h.state(), counts: this.counts, hung: this.hung.size });
                return;
            case 'GET /_control/summary':
                sendJson(res, 200, { ...this.h.summary(), counts: this.counts, hung: this.hung.size });
                return;
            case 'GET /_control/mode':
                sendJson(res, 200, this.modes.toJSON());
                return;
            case 'POST /_control/reset':
                this.h.reset();
                this.counts = {};
                this.requestSeq = 0;
                if (body.modes) {
                    this.modes.reset();
                    await this.unrefuse();
                    this.releaseHung();
                }
                sendJson(res, 200, { ok: true });
                return;
            case 'POST /_control/mode': {
                const keyName = this.h.keyName;
                const key = body[keyName];
                const spec = { ...body };
                delete spec[keyName];
                if (key !== undefined && typeof key !== 'string') {
                    sendJson(res, 400, { error: `"${keyName}" must be a string` });
                    return;
                }
                if (spec.mode === 'refuse' && key !== undefined) {
                    sendJson(res, 400, { error: `mode "refuse" closes the whole port and takes no "${keyName}"` });
                    return;
                }
                const err = this.modes.set(key, spec);
                if (err) {
                    sendJson(res, 400, { error: err });
                    return;
                }
                if (this.modes.get(undefined).mode === 'refuse') {
                    this.refuse();
                } else {
                    await this.unrefuse();
                }
                // Requests hung under a mode that is no longer "hang" get the new answer.
                this.releaseHung();
                sendJson(res, 200, { ok: true, modes: this.modes.toJSON() });
                return;
            }
            case 'POST /_control/config': {
                const err = this.h.configure(body);
                if (err) {
                    sendJson(res, 400, { error: err });
                    return;
                }
                sendJson(res, 200, { ok: true });
                return;
            }
            default:
                sendJson(res, 404, { error: `no control route ${route}` });
        }
    }
}

function listen(server, port) {
    return new Promise((resolve, reject) => {
        const onError = (e) => reject(e);
        server.once('error', onError);
        server.listen(port, HOST, () => {
            server.removeListener('error', onError);
            resolve(server.address().port);
        });
    });
}

function uuid() {
    return crypto.randomUUID();
}

module.exports = { Fake, log, sleep, sendJson, uuid };
