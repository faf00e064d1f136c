// Elements that stick out of the screen: beyond the right edge (or the left) of the viewport,
// unless a scrollable box that fits the screen (or is itself reachable that way) holds them: a
// wide table scrolled inside its frame.
// Text hidden for sight but kept for screen readers is 1 px and inside the screen.
() => {
  const vw = document.documentElement.clientWidth;
  const found = [];
  const fits = (r) => r.right <= vw + 1 && r.left >= -1;
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX === "auto" || s.overflowX === "scroll") return p;
    }
    return null;
  };
  const reachable = (el) => {
    const box = scroller(el);
    return box !== null && (fits(box.getBoundingClientRect()) || reachable(box));
  };
  const describe = (el) => {
    const cls = typeof el.className === "string" ? el.className.trim().split(/\s+/).filter(Boolean) : [];
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + cls.map((c) => "." + c).join("");
  };
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || fits(r)) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (reachable(el)) continue;
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    found.push(`${describe(el)} [${Math.round(r.left)}..${Math.round(r.right)} of ${vw}] "${text}"`);
  }
  return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, elements: found };
}
