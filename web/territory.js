// SPDX-License-Identifier: AGPL-3.0-or-later
// territory.js - a territory's assignments (the same queue, its own inbox).
import { shell, $ } from "/assets/app.js";
import { queue } from "/assets/queue.js";

await shell("Affectations", ["agent", "supervisor"]);
queue($("queue"), $("queue-more"), $("queue-status"), "/referral.html");
