/**
 * Confirmation before destructive actions (power off, reboot, maintenance, remove): `confirm()`
 * opens one modal <dialog> (focus trapped by the browser, Esc cancels) and resolves to the
 * choice. `<ConfirmHost/>` is rendered once by the shell.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

interface Ask {
  title: string;
  text: string;
  action: string;
  done: (yes: boolean) => void;
}

let show: ((a: Ask) => void) | undefined;

/** Asks the user; resolves true only when they press the action button. */
export function confirm(title: string, text: string, action: string): Promise<boolean> {
  return new Promise((done) => {
    if (!show) return done(false);
    show({ title, text, action, done });
  });
}

export function ConfirmHost(): JSX.Element {
  const [ask, setAsk] = useState<Ask>();
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
  }, [ask]);
  const answer = (yes: boolean) => {
    ref.current?.close();
    ask?.done(yes);
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
          <div class="buttons">
            <button type="button" onClick={() => answer(false)}>
              Cancel
            </button>
            <button type="submit" class="danger">
              {ask.action}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
