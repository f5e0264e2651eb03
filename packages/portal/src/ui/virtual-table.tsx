/**
 * A table that puts only the rows in view (and a few either side) in the page, for lists of
 * thousands (10,000 VMs): the rows above and below the window are two spacer rows of the height
 * they would take, so the scroll bar, the scroll position and the browser's own scrolling (wheel,
 * keyboard: the scroll box takes focus, arrows/Page Up/Page Down/Home/End) behave as with every
 * row there. Rows are one line high (no wrapping) and measured from the first row drawn. Screen
 * readers hear the whole size: `aria-rowcount` and each row's `aria-rowindex`. A small component
 * rather than a library: fixed-height table rows are all it has to handle.
 */
import type { JSX } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { Cells, type Column, NoRows, TableHead } from "./widgets";

/** Rows drawn beyond the visible ones on each side, so a fast scroll shows no gap. */
const OVERSCAN = 10;
/** Until a row is measured. */
const DEFAULT_ROW_PX = 41;

export function VirtualTable<T extends { id: string }>(p: { caption: string; columns: Column<T>[]; rows?: T[]; empty: string }): JSX.Element {
  const box = useRef<HTMLElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(typeof window === "undefined" ? 800 : window.innerHeight);
  const [rowPx, setRowPx] = useState(DEFAULT_ROW_PX);
  const frame = useRef(0);
  const rows = p.rows ?? [];
  const first = Math.max(0, Math.floor(top / rowPx) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((top + height) / rowPx) + OVERSCAN);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    // the box's height follows the window (CSS max-height in vh)
    const measure = () => setHeight(el.clientHeight || window.innerHeight);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  useLayoutEffect(() => {
    // the real height of a drawn row, once (rows are one line: all the same)
    const tr = box.current?.querySelector<HTMLTableRowElement>("tbody tr[data-id]");
    const h = tr?.getBoundingClientRect().height;
    if (h && Math.abs(h - rowPx) > 0.5) setRowPx(h);
  });
  const onScroll = () => {
    // at most one render per frame, however many scroll events
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setTop(box.current?.scrollTop ?? 0);
    });
  };
  const span = p.columns.length;
  const spacer = (px: number, key: string) =>
    px > 0 ? (
      <tr key={key} class="spacer">
        <td colSpan={span} aria-hidden="true" style={{ height: `${px}px`, padding: 0, border: 0 }} />
      </tr>
    ) : null;
  return (
    // a labelled section is a region landmark; it takes focus so the keyboard scrolls it
    // biome-ignore lint/a11y/noNoninteractiveTabindex: the scroll box must take focus for keyboard scrolling
    <section class="table-wrap virtual" ref={box} onScroll={onScroll} tabIndex={0} aria-label={`${p.caption}: ${rows.length} rows, scroll to see more`}>
      <table aria-rowcount={p.rows ? rows.length + 1 : undefined}>
        <caption class="sr-only">{p.caption}</caption>
        <TableHead columns={p.columns} rowIndex={1} />
        <tbody>
          {p.rows === undefined || rows.length === 0 ? (
            <NoRows span={span} text={p.rows === undefined ? "Loading…" : p.empty} />
          ) : (
            [
              spacer(first * rowPx, "above"),
              ...rows.slice(first, last).map((r, i) => (
                <tr key={r.id} data-id={r.id} aria-rowindex={first + i + 2}>
                  <Cells columns={p.columns} row={r} />
                </tr>
              )),
              spacer((rows.length - last) * rowPx, "below"),
            ]
          )}
        </tbody>
      </table>
    </section>
  );
}
