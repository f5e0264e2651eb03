/**
 * The portal's entry: shows sign-in until the engine has given a token, then the shell — the
 * administration portal for users the engine lets list hosts, the VM portal for everyone else —
 * with hash routes (#/vms, #/hosts, …) so reloads and bookmarks keep the page.
 */
import "./style.css";
import type { JSX } from "preact";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, currentSession, getOnce, onSession, prefetch, type Session, signOut } from "./lib/api";
import { useHash } from "./lib/hooks";
import { Events, Jobs } from "./pages/activity";
import { Disks, Hosts, Networks, StorageDomains } from "./pages/infra";
import { Overview, Templates } from "./pages/overview";
import { SignIn } from "./pages/signin";
import { Upload } from "./pages/upload";
import { VmPortal } from "./pages/vm-portal";
import { FIRST_PATHS, Vms } from "./pages/vms";
import { ConfirmHost } from "./ui/confirm";
import { Alert, Page } from "./ui/widgets";

interface Route {
  path: string;
  label: string;
  admin: boolean;
  view: () => JSX.Element;
}

const ROUTES: Route[] = [
  { path: "/vms", label: "Virtual machines", admin: true, view: Vms },
  { path: "/datacenters", label: "Data centers", admin: true, view: Overview },
  { path: "/hosts", label: "Hosts", admin: true, view: Hosts },
  { path: "/storage", label: "Storage domains", admin: true, view: StorageDomains },
  { path: "/disks", label: "Disks", admin: true, view: Disks },
  { path: "/upload", label: "Upload", admin: true, view: Upload },
  { path: "/templates", label: "Templates", admin: true, view: Templates },
  { path: "/networks", label: "Networks", admin: true, view: Networks },
  { path: "/jobs", label: "Jobs", admin: true, view: Jobs },
  { path: "/events", label: "Events", admin: true, view: Events },
  { path: "/my", label: "VM portal", admin: false, view: VmPortal },
];

/** Whether this user may use the administration portal: the engine lets them list hosts unfiltered. */
const ADMIN_CHECK = "/hosts?max=1";
async function isAdmin(): Promise<boolean> {
  try {
    await getOnce(ADMIN_CHECK);
    return true;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return false;
    throw err;
  }
}

function Refused(): JSX.Element {
  return (
    <Page title="Not allowed">
      <Alert text="This page is for administrators." />
      <p>
        <a href="#/my">Go to your virtual machines</a>
      </p>
    </Page>
  );
}

function Shell(p: { session: Session }): JSX.Element {
  const hash = useHash();
  const [admin, setAdmin] = useState<boolean>();
  useEffect(() => {
    isAdmin().then(setAdmin, () => setAdmin(false));
  }, []);
  if (admin === undefined) return <p class="muted center">Loading…</p>;
  const allowed = ROUTES.filter((r) => admin || !r.admin);
  // An administration page asked for by someone who is not an administrator is refused, not shown.
  const refused = !admin && ROUTES.some((r) => r.admin && r.path === hash);
  const route = allowed.find((r) => hash === r.path) ?? (allowed[0] as Route);
  const View = refused ? Refused : route.view;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href={`#${allowed[0]?.path}`}>
          Vela
        </a>
        <nav aria-label="Main">
          <ul>
            {allowed.map((r) => (
              <li key={r.path}>
                <a href={`#${r.path}`} aria-current={r === route && !refused ? "page" : undefined}>
                  {r.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>{p.session.user}</span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <View />
      </main>
    </div>
  );
}

/**
 * Sign-in, or the portal. When the engine ends the session (expiry, restart, revocation) the page
 * stays underneath, inert, with sign-in over it: signing in again as the same user carries on
 * where the user was, a half-filled form included. Signing out, or in as someone else, starts afresh.
 */
function App(): JSX.Element {
  const [session, setSession] = useState(currentSession());
  const [shown, setShown] = useState(session);
  const [notice, setNotice] = useState<string>();
  useEffect(
    () =>
      onSession((s, expired) => {
        setNotice(expired ? "Your session has ended; sign in again." : undefined);
        setSession(s);
        setShown((was) => (s ? (was?.user === s.user ? was : s) : expired ? was : undefined));
      }),
    [],
  );
  return (
    <>
      {shown && (
        <div inert={!session} aria-hidden={!session}>
          <Shell session={shown} key={shown.user} />
        </div>
      )}
      {!session && <SignIn notice={notice} overlay={shown !== undefined} />}
      <ConfirmHost />
    </>
  );
}

// A signed-in reload of the VM list (the first page) asks for the admin check and the list's first
// screenful together, now, rather than the list after the check and after the shell's first paint.
if (["", "#", "#/", "#/vms"].includes(location.hash)) prefetch([ADMIN_CHECK, ...FIRST_PATHS]);

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
