/**
 * The sign-in page: user name and password, exchanged for a token at the engine's SSO endpoint.
 * A refusal shows the engine's own words and keeps the user name; the password field is cleared.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { message, signIn } from "../lib/api";
import { Alert } from "../ui/widgets";

/** `overlay`: shown over the page of a session that ended, which stays underneath. */
export function SignIn(p: { notice?: string; overlay?: boolean }): JSX.Element {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!user.trim()) return setError("Enter your user name (for example admin@internal).");
    if (!password) return setError("Enter your password.");
    setBusy(true);
    setError(undefined);
    try {
      await signIn(user.trim(), password);
    } catch (err) {
      setError(message(err));
      setPassword("");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class={p.overlay ? "signin overlay" : "signin"}>
      <form onSubmit={submit} aria-labelledby="signin-title" noValidate>
        <div class="brand big">Vela</div>
        <h1 id="signin-title">Sign in</h1>
        {p.notice && !error && <p class="notice">{p.notice}</p>}
        <Alert text={error} />
        <label for="user">User name</label>
        <input id="user" name="username" autocomplete="username" value={user} onInput={(e) => setUser(e.currentTarget.value)} placeholder="admin@internal" />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
