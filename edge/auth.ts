/**
 * Who is calling: a JWT (HS256 against JWT_SECRET, or RS/ES/EdDSA against a remote JWKS) or a
 * static API key. Algorithms are pinned per key source, so an HS256 token can never be checked
 * against a public key and `alg: none` is never accepted. Every failure is a 401 with a message
 * that says what was wrong, never which secret was close.
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { unauthorized } from '../shared/errors.ts';
import { ApiKeyStore } from './api-keys.ts';
import type { AuthConfig, RateLimits } from './config.ts';
import { type Sha256Hex, webCryptoSha256Hex } from './hash.ts';

export interface Principal {
  sub: string;
  limits: RateLimits;
  via: 'jwt' | 'api_key';
}

const SYMMETRIC_ALGORITHMS = ['HS256'];
const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

const encoder = new TextEncoder();

/**
 * A verified token, remembered so its signature is checked once, not on every request.
 *
 * The trade-off: for up to `VERIFIED_TTL_MS` after its first verification a token is trusted
 * without looking at the key set again, so a signing key withdrawn from the JWKS (or a secret
 * rotated without a restart) stops its tokens only after that delay. Expiry is never relaxed:
 * every hit re-checks `exp` with the same bound as the full verification (exp + clock
 * tolerance), so the cache cannot keep a token alive past the moment jose would refuse it.
 */
interface Verified {
  sub: string;
  expSeconds: number;
}

const VERIFIED_TTL_MS = 60_000;

export class Authenticator {
  private readonly secret: Promise<CryptoKey> | undefined;
  private readonly verified = new LRUCache<string, Verified>({
    max: 10_000,
    ttl: VERIFIED_TTL_MS,
  });
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly apiKeys: ApiKeyStore;

  constructor(
    private readonly config: AuthConfig,
    private readonly defaultLimits: RateLimits,
    private readonly now: () => number = Date.now,
    sha256Hex: Sha256Hex = webCryptoSha256Hex,
  ) {
    // Imported once: jose would import raw key bytes again on every verification.
    this.secret = config.jwtSecret
      ? crypto.subtle.importKey(
          'raw',
          encoder.encode(config.jwtSecret),
          { name: 'HMAC', hash: 'SHA-256' },
          false,
          ['verify'],
        )
      : undefined;
    this.jwks = config.jwksUrl
      ? createRemoteJWKSet(new URL(config.jwksUrl), {
          timeoutDuration: config.jwksTimeoutMs,
          cooldownDuration: config.jwksCooldownMs,
          cacheMaxAge: config.jwksCacheMaxAgeMs,
        })
      : undefined;
    this.apiKeys = new ApiKeyStore(config.apiKeys, sha256Hex);
  }

  /** The caller named by the request's credentials; throws a 401 HttpError otherwise. */
  async authenticate(headers: { get(name: string): string | null }): Promise<Principal> {
    const credential = presentedCredential(headers);
    if (credential.length > this.config.maxTokenBytes)
      throw unauthorized(`Credential exceeds ${this.config.maxTokenBytes} bytes.`);
    const key = await this.apiKeys.lookup(credential);
    if (key) return { sub: key.sub, limits: key.limits, via: 'api_key' };
    if (credential.split('.').length !== 3) throw unauthorized('Invalid API key or token.');
    const sub = this.rememberedSub(credential) ?? (await this.verifyAndRemember(credential));
    return { sub, limits: this.defaultLimits, via: 'jwt' };
  }

  /** The sub of a token verified before, while it is still unexpired. */
  private rememberedSub(token: string): string | undefined {
    const hit = this.verified.get(token);
    if (!hit) return undefined;
    // jose's rule, in whole seconds: expired once floor(now) >= exp + tolerance.
    if (Math.floor(this.now() / 1000) >= hit.expSeconds + this.config.clockToleranceSeconds) {
      this.verified.delete(token);
      throw unauthorized('Token has expired.');
    }
    return hit.sub;
  }

  private async verifyAndRemember(token: string): Promise<string> {
    const payload = await this.verifyJwt(token);
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw unauthorized('Token has no sub claim.');
    // A token not valid yet (nbf within tolerance) is not remembered: verify it again next time.
    if (payload.nbf === undefined || payload.nbf * 1000 <= this.now())
      this.verified.set(token, { sub: payload.sub, expSeconds: payload.exp! });
    return payload.sub;
  }

  private async verifyJwt(token: string): Promise<JWTPayload> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized('Malformed token.');
    }
    const options = {
      issuer: this.config.issuer,
      audience: this.config.audience,
      clockTolerance: this.config.clockToleranceSeconds,
      requiredClaims: ['exp'],
      currentDate: new Date(this.now()),
    };
    try {
      if (typeof alg === 'string' && SYMMETRIC_ALGORITHMS.includes(alg) && this.secret)
        return (
          await jwtVerify(token, await this.secret, {
            ...options,
            algorithms: SYMMETRIC_ALGORITHMS,
          })
        ).payload;
      if (typeof alg === 'string' && ASYMMETRIC_ALGORITHMS.includes(alg) && this.jwks)
        return (
          await jwtVerify(token, this.jwks, { ...options, algorithms: ASYMMETRIC_ALGORITHMS })
        ).payload;
    } catch (err) {
      throw unauthorized(describeJoseError(err));
    }
    throw unauthorized(`Token algorithm '${String(alg)}' is not accepted.`);
  }
}

function presentedCredential(headers: { get(name: string): string | null }): string {
  const apiKey = headers.get('x-api-key');
  if (apiKey) return apiKey.trim();
  const header = headers.get('authorization');
  if (!header) throw unauthorized('Missing Authorization header (expected: Bearer <token>).');
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('Malformed Authorization header (expected: Bearer <token>).');
  return match[1]!;
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'Token has expired.';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'Token is not yet valid.';
    return `Token claim '${err.claim}' is invalid (${err.reason}).`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'Token signature is invalid.';
  if (err instanceof errors.JWKSNoMatchingKey) return 'No signing key matches the token (kid).';
  if (err instanceof errors.JWKSTimeout) return 'Signing keys could not be fetched in time.';
  if (err instanceof errors.JWKSInvalid) return 'Signing key set is invalid.';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'Token algorithm is not accepted.';
  if (err instanceof errors.JOSEError) return `Invalid token (${err.code}).`;
  // Anything else came from fetching the JWKS (connection refused, bad status).
  return 'Signing keys are unavailable; cannot verify the token.';
}
