// SPDX-License-Identifier: AGPL-3.0-or-later
// crip.js - the CRIP's queue.
import { shell, $ } from "/assets/app.js";
import { queue } from "/assets/queue.js";

await shell("File d'attente", ["agent", "supervisor"]);
queue($("queue"), $("queue-more"), $("queue-status"), "/referral.html");
