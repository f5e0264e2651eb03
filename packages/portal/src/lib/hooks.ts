/**
 * Small Preact hooks the pages share: `useLive` keeps a view live by loading it again when the
 * engine's event stream says something it shows changed, `usePoll` asks the API again every few
 * seconds (for what no event tells), `useHash` is the router's state.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { message } from "./api";
import { type LiveMessage, subscribe } from "./live";

export interface Polled<T> {
  data?: T;
  error?: string;
  reload: () => void;
}

/** Calls `load` now and every `everyMs`; the last good answer stays shown while a refresh fails. */
export function usePoll<T>(load: () => Promise<T>, everyMs = 2000, deps: unknown[] = []): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    loadRef.current().then(
      (d) => {
        if (mine !== seq.current) return; // an older answer arriving late
        setData(d);
        setError(undefined);
      },
      (err: unknown) => {
        if (mine === seq.current) setError(message(err));
      },
    );
  }, []);
  useEffect(() => {
    run();
    const t = setInterval(() => {
      if (document.visibilityState === "visible") run();
    }, everyMs);
    return () => {
      clearInterval(t);
      seq.current++;
    };
  }, [run, everyMs, ...deps]);
  return { data, error, reload: run };
}

/**
 * Calls `load` now, and again whenever a live message `hears` accepts arrives (and after the
 * stream reconnects). One load at a time: messages during a load make one more load after it,
 * so a burst of events costs two loads, not one per event.
 */
export function useLive<T>(load: () => Promise<T>, hears: (m: LiveMessage) => boolean, deps: unknown[] = []): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const hearsRef = useRef(hears);
  hearsRef.current = hears;
  const state = useRef({ busy: false, again: false, gen: 0 });
  const run = useCallback(() => {
    const st = state.current;
    if (st.busy) {
      st.again = true;
      return;
    }
    st.busy = true;
    const gen = st.gen;
    loadRef.current()
      .then(
        (d) => {
          if (gen !== st.gen) return;
          setData(d);
          setError(undefined);
        },
        (err: unknown) => {
          if (gen === st.gen) setError(message(err));
        },
      )
      .finally(() => {
        st.busy = false;
        if (st.again && gen === st.gen) {
          st.again = false;
          run();
        }
      });
  }, []);
  useEffect(() => {
    const st = state.current;
    st.busy = false;
    st.again = false;
    run();
    const stop = subscribe((m) => {
      if (m.type === "ready" || hearsRef.current(m)) run();
    });
    return () => {
      stop();
      st.gen++;
    };
  }, [run, ...deps]);
  return { data, error, reload: run };
}

/** The route: the URL fragment without its `#`, "" when none. */
export function useHash(): string {
  const [hash, setHash] = useState(location.hash.slice(1));
  useEffect(() => {
    const on = () => setHash(location.hash.slice(1));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

/** A panel's actions: one at a time (`busy` disables its buttons), the engine's refusal in `error`. */
export interface Runner {
  busy: boolean;
  error: string | undefined;
  setError: (e: string | undefined) => void;
  run: (what: () => Promise<unknown>) => Promise<void>;
}

/** Runs an action, then `after` (e.g. reloading the panel's data) once it succeeded. */
export function useRunner(after: () => void): Runner {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const run = async (what: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await what();
      after();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
