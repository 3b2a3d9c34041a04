/**
 * A credential written into a URL would be committed with the fleet file and copied into cdk.tf.json, plan files
 * and logs. Each service has an environment variable for it instead; the message names it.
 */

/** Query parameters that carry secrets (GitLab's private_token, OAuth's access_token, S3's X-Amz-Signature, ...). */
const SECRET_PARAM = /pass|pwd|token|secret|sig|auth|credential|key/i;

export interface UrlCredentialOptions {
  /** Where the credential goes instead, e.g. "TF_HTTP_USERNAME and TF_HTTP_PASSWORD". */
  readonly instead: string;
  /** A user name alone is allowed (ssh's `root@host`); otherwise any user info is refused. @default false */
  readonly allowUser?: boolean;
}

/** Why `url` holds a credential, or undefined when it does not. */
export function urlCredentialProblem(url: string, options: UrlCredentialOptions): string | undefined {
  const fix = `; leave it out and set ${options.instead} where Terraform runs`;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  const rest = scheme ? url.slice(scheme[0].length) : url;
  const userInfo = userInfoOf(rest);
  if (userInfo?.includes(":")) return `holds a password (user:password@)${fix}`;
  if (userInfo !== undefined && !options.allowUser) return `holds a user name or token before @${fix}`;
  const query = /\?([^#]*)/.exec(rest)?.[1] ?? "";
  for (const pair of query.split("&")) {
    const key = decodeURIComponentSafe(pair.split("=")[0]);
    if (key && SECRET_PARAM.test(key)) return `passes "${key}" in its query string, which is a credential${fix}`;
  }
  return undefined;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Query parameters that are secrets whatever the service (a `key` may be a plain lookup key elsewhere). */
const SURE_SECRET_PARAM = /pass|pwd|token|secret|signature|credential|^sig$/i;

/** Whether `url` holds user:password@ or a query parameter that is surely a secret (`private_token`, `password`). */
export function urlHasSecret(url: string): boolean {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  const rest = scheme ? url.slice(scheme[0].length) : url;
  if (userInfoOf(rest)?.includes(":")) return true;
  const query = /\?([^#\s]*)/.exec(rest)?.[1] ?? "";
  return query.split("&").some((pair) => SURE_SECRET_PARAM.test(decodeURIComponentSafe(pair.split("=")[0])));
}

/**
 * The user info of a URL after its scheme, or undefined. It ends at an @ that a host name follows; a password may
 * hold / ? or #, which end the authority in a well-formed URL, so the @ is looked for across the whole text.
 */
function userInfoOf(rest: string): string | undefined {
  for (let at = rest.indexOf("@"); at >= 0; at = rest.indexOf("@", at + 1)) {
    const host = rest.slice(at + 1).split(/[/?#\s]/)[0];
    if (!/^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d+)?$/.test(host)) continue;
    const userInfo = rest.slice(0, at);
    const colon = userInfo.indexOf(":");
    // `host:8443/api/a@b` is a port and a path with an @ in it; `host/x?mail=a@b` a query: neither is user info.
    if (colon >= 0 && /^\d+[/?#]/.test(userInfo.slice(colon + 1))) continue;
    if (colon < 0 && /[/?#]/.test(userInfo)) continue;
    return userInfo;
  }
  return undefined;
}
