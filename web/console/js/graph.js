/*
 * Draws a state machine with cytoscape + cytoscape-dagre (top to bottom) and colours its
 * states from graph-status.js's view; `update` recolours in place without a new layout, so a
 * live execution does not make the drawing jump.
 */
import cytoscape from "../../vendor/cytoscape/cytoscape.esm.min.mjs";
import cytoscapeDagre from "../../vendor/cytoscape-dagre/cytoscape-dagre.min.mjs";
import { STATUS, STATUS_LABELS } from "./graph-status.js";

cytoscape.use(cytoscapeDagre);

// AWS console's graph colours (fill, border, text) per status. Text on each fill is at least
// 4.5:1; the status is also written under the state's name, so colour is never the only cue.
export const COLOURS = Object.freeze({
  notStarted: { fill: "#ffffff", border: "#5f6b7a", text: "#16191f" },
  inProgress: { fill: "#0972d3", border: "#033160", text: "#ffffff" },
  succeeded: { fill: "#037f0c", border: "#014b07", text: "#ffffff" },
  failed: { fill: "#d91515", border: "#700000", text: "#ffffff" },
  caughtError: { fill: "#f89256", border: "#8d3f00", text: "#16191f" },
  cancelled: { fill: "#5f6b7a", border: "#2a2e33", text: "#ffffff" },
});
const TAKEN = "#16191f";
const NOT_TAKEN = "#8c96a3";

// One cytoscape instance per container, so tests (and a later redraw) can find it.
const instances = new WeakMap();

function label(node, status) {
  if (node.marker) return node.label;
  return status === STATUS.NOT_STARTED ? node.label : `${node.label}\n${STATUS_LABELS[status]}`;
}

function stylesheet() {
  const rules = [
    {
      selector: "node",
      style: {
        shape: "round-rectangle",
        width: 190,
        height: 52,
        label: "data(label)",
        "text-wrap": "wrap",
        "text-valign": "center",
        "text-halign": "center",
        "font-family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
        "font-size": 14,
        "border-width": 2,
      },
    },
    {
      selector: "node.marker",
      style: { shape: "ellipse", width: 64, height: 34, "font-size": 12 },
    },
    { selector: "node.taken", style: { "border-width": 4 } },
    {
      selector: "edge",
      style: {
        width: 1.5,
        "curve-style": "bezier",
        "target-arrow-shape": "triangle",
        "line-color": NOT_TAKEN,
        "target-arrow-color": NOT_TAKEN,
        "line-style": "solid",
        label: "data(label)",
        "font-size": 10,
        color: "#414d5c",
        "text-background-color": "#ffffff",
        "text-background-opacity": 1,
        "text-background-padding": 2,
      },
    },
    { selector: "edge.catch", style: { "line-style": "dashed" } },
    {
      selector: "edge.taken",
      style: { width: 3.5, "line-color": TAKEN, "target-arrow-color": TAKEN },
    },
  ];
  for (const [status, colour] of Object.entries(COLOURS)) {
    rules.push({
      selector: `node.status-${status}`,
      style: { "background-color": colour.fill, "border-color": colour.border, color: colour.text },
    });
  }
  return rules;
}

function applyView(cy, view) {
  const takenNodes = new Set(view.path.nodes);
  const takenEdges = new Set(view.path.edges);
  cy.batch(() => {
    cy.nodes().forEach((n) => {
      const status = (view.states[n.id()] || {}).status || STATUS.NOT_STARTED;
      for (const s of Object.keys(COLOURS)) n.removeClass(`status-${s}`);
      n.addClass(`status-${status}`);
      n.toggleClass("taken", takenNodes.has(n.id()));
      n.data("status", status);
      n.data("label", label(n.data("node"), status));
    });
    cy.edges().forEach((e) => e.toggleClass("taken", takenEdges.has(e.id())));
  });
}

/**
 * Lays out `view.graph` in `container` and colours it. Returns {update(view)}, which
 * recolours the same drawing (the definition of one execution does not change).
 */
export function drawGraph(container, view) {
  const elements = [];
  for (const node of view.graph.nodes) {
    elements.push({
      group: "nodes",
      data: { id: node.id, label: node.label, node, status: STATUS.NOT_STARTED },
      classes: node.marker ? "marker" : "",
    });
  }
  for (const edge of view.graph.edges) {
    elements.push({
      group: "edges",
      data: { id: edge.id, source: edge.source, target: edge.target, label: edge.label },
      classes: edge.kind,
    });
  }
  const old = instances.get(container);
  if (old) old.destroy();
  const cy = cytoscape({
    container,
    elements,
    style: stylesheet(),
    layout: { name: "dagre", rankDir: "TB", nodeSep: 40, rankSep: 55, edgeSep: 12 },
    // The page scrolls past the graph: the wheel must not zoom it.
    userZoomingEnabled: false,
    boxSelectionEnabled: false,
    autoungrabify: true,
    minZoom: 0.3,
    maxZoom: 1.5,
  });
  instances.set(container, cy);
  applyView(cy, view);
  // As tall as the drawing at full size (within reason), so it is read at zoom 1, not shrunk
  // into a fixed box. Set through the CSSOM, which the CSP allows (style attributes it does not).
  const box = cy.elements().boundingBox();
  container.style.height = `${Math.round(Math.min(960, Math.max(320, box.h + 40)))}px`;
  cy.resize();
  cy.fit(undefined, 16);
  // Render-done marker for bench/console_page.py: the layout above is synchronous, and
  // cytoscape paints in its own animation frame, queued before this one; so at this frame the
  // graph is on screen. The value is ms since the navigation began (performance.now()).
  requestAnimationFrame(() => {
    container.dataset.drawnAt = performance.now().toFixed(1);
  });
  return {
    update(next) {
      applyView(cy, next);
    },
    zoomBy(factor) {
      const zoom = Math.min(cy.maxZoom(), Math.max(cy.minZoom(), cy.zoom() * factor));
      cy.zoom({ level: zoom, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    },
    fit() {
      cy.fit(undefined, 16);
    },
  };
}

/**
 * What is drawn in `container`: each node's id, status and fill colour as cytoscape renders
 * it, each edge's id and whether it is highlighted. For tests and for debugging in devtools.
 */
export function renderedGraph(container) {
  const cy = instances.get(container);
  if (!cy) return null;
  return {
    nodes: cy.nodes().map((n) => ({
      id: n.id(),
      status: n.data("status"),
      fill: n.style("background-color"),
      label: n.data("label"),
      taken: n.hasClass("taken"),
      position: n.position(),
    })),
    edges: cy.edges().map((e) => ({ id: e.id(), taken: e.hasClass("taken"), kind: e.classes()[0] || "" })),
  };
}
