// Model gateway: named client keys, per-key model allow-lists, OpenAI-shaped errors.
// Runs in nginx's njs module (Debian 0.7.9 and the nginx.org 0.8.x builds alike).
// Shipped by slm-deploy (components/gateway/files/gateway.js); do not edit the deployed copy.
//
// Keys: the keys file (a Secret mounted as a file) holds one line per accepted key,
//   <client-name> <sha256 hex of the key>
// so no key is stored in the clear. It is read on every request, so a rotated
// Secret takes effect with no reload: a new line works and a removed line stops
// working on the next request after the file changes.
// Limits (limit_req / limit_conn) and the model list live in nginx.conf; this
// module only names the caller and checks the body's `model`.

var fs = require('fs');
var crypto = require('crypto');

// One request, one VM: memoise the caller so the several maps that read
// $gw_client hash the key and read the file once per request.
var memo = null;

function bearer(r) {
    var header = r.headersIn.Authorization;
    if (typeof header !== 'string' || header.length <= 7) {
        return null;
    }
    // The scheme is case-insensitive (RFC 9110 section 11.1); the key itself is compared exactly.
    if (header.slice(0, 7).toLowerCase() !== 'bearer ') {
        return null;
    }
    return header.slice(7);
}

function lookup(r) {
    var token = bearer(r);
    if (token === null) {
        return '';
    }
    var digest = crypto.createHash('sha256').update(token).digest('hex');
    var text;
    try {
        text = fs.readFileSync(r.variables.gw_keys_file, 'utf8');
    } catch (e) {
        r.error('gateway: cannot read the keys file: ' + e.message);
        return '';
    }
    var lines = text.split('\n');
    for (var i = 0; i < lines.length; i++) {
        var fields = lines[i].trim().split(/\s+/);
        if (fields.length === 2 && fields[1] === digest) {
            return fields[0];
        }
    }
    return '';
}

// js_set $gw_client gateway.client;  the caller's client name, or '' when the key is unknown.
function client(r) {
    if (memo === null) {
        memo = lookup(r);
    }
    return memo;
}

function words(value) {
    return (value || '').split(' ').filter(function (w) { return w.length > 0; });
}

function fail(r, status, message, type, code) {
    r.headersOut['Content-Type'] = 'application/json';
    if (status === 401) {
        r.headersOut['WWW-Authenticate'] = 'Bearer realm="slm-deploy"';
    }
    r.return(status, JSON.stringify({error: {message: message, type: type, param: null, code: code}}) + '\n');
}

function unauthorized(r) {
    fail(r, 401, 'Incorrect or missing API key. Send it as: Authorization: Bearer <key>.',
         'invalid_request_error', 'invalid_api_key');
}

// js_content for the inference routes: authenticate, read `model`, check it, hand over to the router.
function route(r) {
    var who = client(r);
    if (!who) {
        return unauthorized(r);
    }
    var body;
    try {
        body = JSON.parse(r.requestText || '');
    } catch (e) {
        return fail(r, 400, 'The request body is not valid JSON.', 'invalid_request_error', null);
    }
    var model = body === null || typeof body !== 'object' ? undefined : body.model;
    if (typeof model !== 'string' || model.length === 0) {
        return fail(r, 400, 'You must provide a model parameter.', 'invalid_request_error', null);
    }
    if (words(r.variables.gw_models).indexOf(model) < 0) {
        return fail(r, 404, 'The model `' + model + '` does not exist or you do not have access to it.',
                    'invalid_request_error', 'model_not_found');
    }
    if (words(r.variables.gw_client_models).indexOf(model) < 0) {
        return fail(r, 403, 'The API key of client `' + who + '` may not use the model `' + model + '`.',
                    'invalid_request_error', 'model_not_allowed');
    }
    r.variables.gw_model = model;
    var canary = canaryOf(r, model);
    var toCanary = canary !== null && inCanaryShare(r, canary.share);
    r.variables.gw_track = toCanary ? 'canary' : 'stable';
    r.internalRedirect(toCanary ? '@canary_' + canary.index : '@router');
}

// The canary of `model` from $gw_canaries ("<index>:<percent>:<model> ..."), or null.
function canaryOf(r, model) {
    var entries = words(r.variables.gw_canaries);
    for (var i = 0; i < entries.length; i++) {
        var a = entries[i].indexOf(':');
        var b = entries[i].indexOf(':', a + 1);
        if (entries[i].slice(b + 1) === model) {
            return {index: entries[i].slice(0, a), share: parseInt(entries[i].slice(a + 1, b), 10)};
        }
    }
    return null;
}

// Whether one request falls in the canary's share: its bucket (0-99) is the first 32 bits of $request_id
// (16 random bytes nginx generates per request) modulo 100, so the split is deterministic per request id and
// no client can pick its track.
function inCanaryShare(r, share) {
    if (share <= 0) {
        return false;
    }
    if (share >= 100) {
        return true;
    }
    return parseInt(r.variables.request_id.slice(0, 8), 16) % 100 < share;
}

// js_set $gw_upstream_auth gateway.upstreamAuth;  for a single proxy in front of a model server that
// authenticates every request itself (the ONNX edge server): "Bearer <the server's own key>", read per request
// from $gw_upstream_key_file (a secret file in the server's format: the first line that is neither blank nor a
// '#' comment). The client's key never goes upstream; an unreadable file sends no key (the server answers 401).
function upstreamAuth(r) {
    var path = r.variables.gw_upstream_key_file;
    if (!path) {
        return '';
    }
    var text;
    try {
        text = fs.readFileSync(path, 'utf8');
    } catch (e) {
        r.error('gateway: cannot read the upstream key file: ' + e.message);
        return '';
    }
    var lines = text.split('\n');
    for (var i = 0; i < lines.length; i++) {
        var line = lines[i].trim();
        if (line.length > 0 && line.charAt(0) !== '#') {
            return 'Bearer ' + line;
        }
    }
    return '';
}

// js_content for GET /v1/models: exactly the models this caller's key may use.
function models(r) {
    var who = client(r);
    if (!who) {
        return unauthorized(r);
    }
    var served = words(r.variables.gw_models);
    var data = words(r.variables.gw_client_models)
        .filter(function (m) { return served.indexOf(m) >= 0; })
        .map(function (m) { return {id: m, object: 'model', created: 0, owned_by: 'slm-deploy'}; });
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify({object: 'list', data: data}) + '\n');
}

export default {client: client, route: route, models: models, upstreamAuth: upstreamAuth};
