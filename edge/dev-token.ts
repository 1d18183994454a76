/** Dev tokens: HS256 JWTs for the configured secret (`edgeserve token`, `npm start`). */
import { SignJWT } from 'jose';

export interface DevTokenOptions {
  sub: string;
  ttlSeconds: number;
  issuer?: string;
  audience?: string;
  /** Seconds since the epoch; defaults to now. */
  issuedAt?: number;
}

export async function mintDevToken(secret: string, options: DevTokenOptions): Promise<string> {
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.round(options.ttlSeconds));
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
