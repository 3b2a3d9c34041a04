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
  const authority = rest.split(/[/?#]/)[0];
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    if (authority.slice(0, at).includes(":")) return `holds a password (user:password@)${fix}`;
    if (!options.allowUser) return `holds a user name or token before @${fix}`;
  } else if (/:[^:]*[^0-9:][^:]*$/.test(authority) && /@/.test(rest.split(/[?#]/)[0])) {
    // `user:pa/ss@host`: a / in the password ends the authority early, leaving `user:pa` where host:port would be.
    return `holds a password (user:password@)${fix}`;
  }
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
