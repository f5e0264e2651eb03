/**
 * Small Preact hooks the pages share: `usePoll` keeps a view live by asking the API again every
 * few seconds (while the tab is visible), `useHash` is the router's state.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { message } from "./api";

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
