/* foyer fairness page: checks the pre-queue shuffle in the browser, with its own SHA-256 and
 * AES-256 (no WebCrypto: it works on any page, secure context or not), written from
 * docs/fairness.md and checked against queue/testdata/shuffle-vectors.json in web's browser
 * tests. window.foyerVerify = {sha256, commitment, place} for anyone who wants to use it. */
(() => {
  'use strict';
  const hexToBytes = h => { const b = new Uint8Array(h.length >> 1); for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(i * 2, 2), 16); return b; };
  const bytesToHex = b => Array.from(b, x => x.toString(16).padStart(2, '0')).join('');

  // SHA-256 (FIPS 180-4).
  const K = new Uint32Array([0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb,
    0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f,
    0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  function sha256(msg) {
    const n = msg.length, len = ((n + 9 + 63) >> 6) << 6, m = new Uint8Array(len);
    m.set(msg); m[n] = 0x80;
    const bits = n * 8;
    for (let i = 0; i < 8; i++) m[len - 1 - i] = Math.floor(bits / Math.pow(2, 8 * i)) & 0xff;
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const w = new Uint32Array(64);
    const rotr = (x, r) => (x >>> r) | (x << (32 - r));
    for (let o = 0; o < len; o += 64) {
      for (let i = 0; i < 16; i++) w[i] = (m[o + 4 * i] << 24) | (m[o + 4 * i + 1] << 16) | (m[o + 4 * i + 2] << 8) | m[o + 4 * i + 3];
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) { out[4 * i] = h[i] >>> 24; out[4 * i + 1] = (h[i] >>> 16) & 0xff; out[4 * i + 2] = (h[i] >>> 8) & 0xff; out[4 * i + 3] = h[i] & 0xff; }
    return out;
  }

  // AES-256 encryption of one block (FIPS 197). The S-box is computed: multiplicative inverse
  // in GF(2^8), then the affine map.
  const xt = x => ((x << 1) ^ (x & 0x80 ? 0x1b : 0)) & 0xff;
  const mul = (a, b) => { let r = 0; while (b) { if (b & 1) r ^= a; a = xt(a); b >>= 1; } return r; };
  const SBOX = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    let inv = 0;
    if (x) for (let y = 1; y < 256; y++) if (mul(x, y) === 1) { inv = y; break; }
    let s = inv;
    for (let i = 1; i <= 4; i++) s ^= ((inv << i) | (inv >> (8 - i))) & 0xff;
    SBOX[x] = s ^ 0x63;
  }
  function expandKey(key) { // 32-byte key -> 15 round keys of 16 bytes
    const w = new Uint8Array(240);
    w.set(key);
    let rcon = 1;
    for (let i = 8; i < 60; i++) {
      let t = w.slice(4 * (i - 1), 4 * i);
      if (i % 8 === 0) {
        t = Uint8Array.of(SBOX[t[1]] ^ rcon, SBOX[t[2]], SBOX[t[3]], SBOX[t[0]]);
        rcon = xt(rcon);
      } else if (i % 8 === 4) t = t.map(b => SBOX[b]);
      for (let j = 0; j < 4; j++) w[4 * i + j] = w[4 * (i - 8) + j] ^ t[j];
    }
    return w;
  }
  function encrypt(rk, input) {
    let s = Uint8Array.from(input, (b, i) => b ^ rk[i]);
    for (let r = 1; r <= 14; r++) {
      const t = new Uint8Array(16);
      for (let c = 0; c < 4; c++) for (let row = 0; row < 4; row++) t[4 * c + row] = SBOX[s[4 * ((c + row) % 4) + row]]; // SubBytes + ShiftRows
      if (r < 14) {
        for (let c = 0; c < 4; c++) { // MixColumns
          const a0 = t[4 * c], a1 = t[4 * c + 1], a2 = t[4 * c + 2], a3 = t[4 * c + 3];
          t[4 * c] = xt(a0) ^ xt(a1) ^ a1 ^ a2 ^ a3;
          t[4 * c + 1] = a0 ^ xt(a1) ^ xt(a2) ^ a2 ^ a3;
          t[4 * c + 2] = a0 ^ a1 ^ xt(a2) ^ xt(a3) ^ a3;
          t[4 * c + 3] = xt(a0) ^ a0 ^ a1 ^ a2 ^ xt(a3);
        }
      }
      for (let i = 0; i < 16; i++) t[i] ^= rk[16 * r + i];
      s = t;
    }
    return s;
  }

  // The shuffle (docs/fairness.md): key = SHA-256("foyer-prequeue-v1" || seed); half-width h
  // from the smallest even bit width 2h >= 2 with 2^(2h) >= P; six Feistel rounds
  // L, R = R, L xor F(i, R) with F(i, R) = the first 8 bytes (big-endian) of
  // AES-256_key(i, 7 zero bytes, R as 8 bytes big-endian) mod 2^h; cycle-walking until < P.
  const DOMAIN = new TextEncoder().encode('foyer-prequeue-v1');
  function place(seedHex, p, n) {
    p = Number(p); n = Number(n);
    if (!(p >= 1) || !(n >= 1) || n > p || n !== Math.floor(n)) return 0;
    const seed = hexToBytes(seedHex), msg = new Uint8Array(DOMAIN.length + seed.length);
    msg.set(DOMAIN); msg.set(seed, DOMAIN.length);
    const rk = expandKey(sha256(msg));
    let bits = 2;
    while (Math.pow(2, bits) < p) bits += 2;
    const half = bits / 2, size = Math.pow(2, half);
    const F = (i, r) => {
      const b = new Uint8Array(16);
      b[0] = i;
      for (let k = 0; k < 8; k++) b[15 - k] = Math.floor(r / Math.pow(2, 8 * k)) % 256;
      const o = encrypt(rk, b);
      const low = ((o[4] << 24) | (o[5] << 16) | (o[6] << 8) | o[7]) >>> 0; // half <= 20: the low 32 bits suffice
      return low % size;
    };
    let x = n - 1;
    for (;;) {
      let l = Math.floor(x / size), r = x % size;
      for (let i = 0; i < 6; i++) { const t = (l ^ F(i, r)) >>> 0; l = r; r = t; }
      x = l * size + r;
      if (x < p) return x + 1;
    }
  }
  const commitment = seedHex => bytesToHex(sha256(hexToBytes(seedHex)));
  window.foyerVerify = {sha256: b => bytesToHex(sha256(b)), commitment, place, hexToBytes};

  // The page's form: the visitor's pre-queue number (prefilled from #n=...&pos=... when the
  // waiting page linked here) gives their place, and the seed is checked against the commitment.
  const boot = document.getElementById('boot');
  const form = document.getElementById('verify');
  if (!boot || !form) return;
  const B = JSON.parse(boot.textContent), M = B.msgs || {}, L = B.lang === 'ko' ? 'ko-KR' : 'en-US';
  const nf = new Intl.NumberFormat(L), t = (k, a) => (M[k] || k).replace(/\{(\w+)\}/g, (_, x) => (a && x in a ? a[x] : ''));
  const out = document.getElementById('v-out'), input = document.getElementById('v-ticket');
  const hash = new URLSearchParams(location.hash.slice(1));
  if (+hash.get('n') > 0) input.value = hash.get('n');
  input.max = B.p;
  function check() {
    const n = +input.value, shown = +hash.get('pos') || 0;
    out.textContent = '';
    const lines = [B.seed && commitment(B.seed) === B.commitment ? t('commit_ok') : t('commit_bad')];
    if (!(n >= 1 && n <= B.p && n === Math.floor(n))) lines.push(t('out_of_range', {p: nf.format(B.p)}));
    else {
      const pl = place(B.seed, B.p, n);
      lines.push(t('place', {n: nf.format(n), place: nf.format(pl), p: nf.format(B.p)}));
      if (shown && String(n) === hash.get('n')) lines.push(shown === pl ? t('match') : t('mismatch', {shown: nf.format(shown), place: nf.format(pl)}));
    }
    lines.forEach(s => { const p = document.createElement('span'); p.textContent = s; p.className = 'vline'; out.append(p, document.createElement('br')); });
  }
  form.addEventListener('submit', e => { e.preventDefault(); check(); });
  if (input.value) check();
})();
