/**
 * Confirmation before destructive actions (power off, reboot, maintenance, remove): `confirm()`
 * opens one modal <dialog> (focus trapped by the browser, Esc cancels) and resolves to the
 * choice; `choose()` is the same dialog with a list to pick from (a target host or storage
 * domain). `<ConfirmHost/>` is rendered once by the shell.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export interface Choice {
  value: string;
  label: string;
}

interface Ask {
  title: string;
  text: string;
  action: string;
  /** A list to pick from; the answer is the picked value. */
  choices?: Choice[];
  /** The list's label. */
  label?: string;
  done: (yes: boolean, picked?: string) => void;
}

let show: ((a: Ask) => void) | undefined;

/** Asks the user; resolves true only when they press the action button. */
export function confirm(title: string, text: string, action: string): Promise<boolean> {
  return new Promise((done) => {
    if (!show) return done(false);
    show({ title, text, action, done });
  });
}

/** Asks the user to pick one of `choices`; resolves to its value, undefined when cancelled. */
export function choose(title: string, text: string, action: string, label: string, choices: Choice[]): Promise<string | undefined> {
  return new Promise((done) => {
    if (!show || choices.length === 0) return done(undefined);
    show({ title, text, action, choices, label, done: (yes, picked) => done(yes ? picked : undefined) });
  });
}

export function ConfirmHost(): JSX.Element {
  const [ask, setAsk] = useState<Ask>();
  const [picked, setPicked] = useState<string>();
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    show = setAsk;
    return () => {
      show = undefined;
    };
  }, []);
  useEffect(() => {
    const d = ref.current;
    if (ask && d && !d.open) d.showModal();
    setPicked(ask?.choices?.[0]?.value);
  }, [ask]);
  const answer = (yes: boolean) => {
    ref.current?.close();
    ask?.done(yes, picked);
    setAsk(undefined);
  };
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onCancel={() => answer(false)}>
      {ask && (
        <form method="dialog" onSubmit={(e) => {
            e.preventDefault();
            answer(true);
          }}>
          <h2 id="confirm-title">{ask.title}</h2>
          <p>{ask.text}</p>
          {ask.choices && (
            <p class="pick">
              <label for="confirm-pick">{ask.label}</label>{" "}
              <select id="confirm-pick" value={picked} onChange={(e) => setPicked(e.currentTarget.value)}>
                {ask.choices.map((c) => (
                  <option key={c.value} value={c.value}>
                    {c.label}
                  </option>
                ))}
              </select>
            </p>
          )}
          <div class="buttons">
            <button type="button" onClick={() => answer(false)}>
              Cancel
            </button>
            <button type="submit" class={ask.choices ? "primary" : "danger"}>
              {ask.action}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
