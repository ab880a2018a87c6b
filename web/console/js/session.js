/* The signed-in user in the header, signing out, and the outcome filter's choices. */
import { request } from "./api.js";

// The outcome codes the list can filter by (SignupSummary.outcome.code, the console API's
// OutcomeCode), in the words a support person uses.
export const OUTCOMES = Object.freeze([
  ["waiting", "Waiting for a reply"],
  ["confirmed", "Confirmed by reply"],
  ["resubscribed", "Subscribed again (START)"],
  ["expired_no_reply", "Expired: no reply"],
  ["expired_workflow_failed", "Expired: the workflow failed"],
  ["expired_execution_ended", "Expired: the execution ended"],
  ["expired_other", "Expired: another reason"],
  ["agent_cancelled", "Cancelled by an agent"],
  ["agent_expired", "Expired by an agent"],
  ["cancelled", "Cancelled: opted out while pending"],
  ["opted_out", "Opted out after confirming"],
  ["rejected", "Rejected"],
]);

const ROLE_WORDS = { viewer: "viewer: numbers masked", agent: "agent" };

export function showUser(user) {
  document.getElementById("user-name").textContent = user.username || "";
  document.getElementById("user-role").textContent = ROLE_WORDS[user.role] || user.role || "";
  document.getElementById("user-bar").hidden = false;
}

export async function signOut() {
  try {
    await request("DELETE", "session");
  } catch {
    // Signed out or not, the page forgets the user; the cookie is HttpOnly and ends anyway.
  }
  document.getElementById("user-bar").hidden = true;
}
