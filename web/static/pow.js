/* foyer proof-of-work worker: finds a counter such that SHA-256(challenge ":" counter) starts
   with `difficulty` zero bits (gateway/pow.go checks it). Loaded only when a join asks for it.
   In: {challenge, difficulty}. Out: {solution: "challenge:counter", tries, ms}. */
'use strict';
const K = new Int32Array([0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]);
const IV = [0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19];
const W = new Int32Array(64);

// compress runs one 64-byte block (already in W[0..15]) into the state H (length 8).
function compress(H) {
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15], y = W[t - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
  }
  let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
  H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
}

function solve(challenge, difficulty) {
  const prefix = new TextEncoder().encode(challenge + ':');
  const full = prefix.length >> 6, mid = new Int32Array(IV);
  for (let blk = 0; blk < full; blk++) { // the blocks every try shares, hashed once
    for (let i = 0; i < 16; i++) {
      const o = blk * 64 + i * 4;
      W[i] = (prefix[o] << 24) | (prefix[o + 1] << 16) | (prefix[o + 2] << 8) | prefix[o + 3];
    }
    compress(mid);
  }
  const tail = prefix.subarray(full * 64), buf = new Uint8Array(128), H = new Int32Array(8);
  buf.set(tail);
  const total0 = prefix.length, shift = 32 - difficulty;
  for (let n = 0; ; n++) {
    const digits = String(n);
    let p = tail.length;
    for (let i = 0; i < digits.length; i++) buf[p++] = digits.charCodeAt(i);
    const bitsLen = (total0 + digits.length) * 8;
    buf[p++] = 0x80;
    const blocks = p + 8 <= 64 ? 1 : 2, end = blocks * 64;
    buf.fill(0, p, end - 4);
    buf[end - 4] = bitsLen >>> 24; buf[end - 3] = bitsLen >>> 16; buf[end - 2] = bitsLen >>> 8; buf[end - 1] = bitsLen;
    H.set(mid);
    for (let blk = 0; blk < blocks; blk++) {
      for (let i = 0; i < 16; i++) {
        const o = blk * 64 + i * 4;
        W[i] = (buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3];
      }
      compress(H);
    }
    const h0 = H[0] >>> 0;
    if (difficulty <= 32 ? (shift === 0 ? h0 === 0 : (h0 >>> shift) === 0) : false) return n;
  }
}

onmessage = e => {
  const t0 = Date.now(), n = solve(e.data.challenge, e.data.difficulty);
  postMessage({solution: e.data.challenge + ':' + n, tries: n + 1, ms: Date.now() - t0});
};
