"""Drives a running `actlog serve` with marketorestpython, unmodified except for its host.

Environment: ACTLOG_URL (e.g. http://127.0.0.1:8080), ACTLOG_CLIENT_ID, ACTLOG_CLIENT_SECRET.
Run by crates/server/tests/server_marketorestpython.rs, which starts the server and a venv:
    cargo test -p actlog-server --test server_marketorestpython -- --ignored
Exits non-zero on the first failed check.
"""

import csv
import io
import json
import os
import sys
import time

# This file shares the package's name: keep its own folder off the import path.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

from marketorestpython.client import MarketoClient  # noqa: E402

URL = os.environ["ACTLOG_URL"]
mc = MarketoClient("123-ABC-456", os.environ["ACTLOG_CLIENT_ID"], os.environ["ACTLOG_CLIENT_SECRET"])
mc.host = URL  # the only change: aim the client at actlog

checks = 0


def check(cond, what):
    global checks
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


types = mc.execute(method="get_activity_types")
check(len(types) >= 5 and all("id" in t and "name" in t for t in types), "standard activity types listed")

created = mc.execute(
    method="create_custom_activity_type",
    apiName="pyConference",
    name="Attend Py Conference",
    triggerName="Attends Py Conference",
    filterName="Attended Py Conference",
    primaryAttributeApiName="conferenceName",
    primaryAttributeName="Conference Name",
    description="created by marketorestpython",
)
check(created[0]["status"] == "draft", "type created as draft")
check(created[0]["primaryAttribute"]["dataType"] == "string", "primary attribute defaults to string")
type_id = created[0]["id"]

with_attrs = mc.execute(
    method="create_custom_activity_type_attribute",
    apiName="pyConference",
    attributes=[
        {"apiName": "room", "name": "Room", "dataType": "string"},
        {"apiName": "seats", "name": "Seats", "dataType": "integer"},
    ],
)
check(len(with_attrs[0]["attributes"]) == 2, "attributes added")
approved = mc.execute(method="approve_custom_activity_type", apiName="pyConference")
check(approved[0]["status"] == "approved", "type approved")
described = mc.execute(method="describe_custom_activity_type", apiName="pyConference")
check(described[0]["apiName"] == "pyConference", "type described")
check(any(t["apiName"] == "pyConference" for t in mc.execute(method="get_custom_activity_types")), "custom types listed")

total = 0
for batch in range(4):
    activities = [
        {
            "leadId": 1000 + i,
            "activityDate": "2024-03-%02dT%02d:%02d:00+01:00" % (1 + (batch * 7 + i) % 28, 1 + i % 22, batch),
            "activityTypeId": type_id,
            "primaryAttributeValue": "PyCon %d" % i,
            "attributes": [{"apiName": "room", "value": "Room %d" % (i % 5)}, {"name": "Seats", "value": i}],
        }
        for i in range(250)
    ]
    results = mc.execute(method="add_custom_activities", input=activities)
    check(len(results) == 250 and all(r["status"] == "added" for r in results), "batch %d added" % batch)
    total += 250

bad = mc.execute(
    method="add_custom_activities",
    input=[{"leadId": 1, "activityDate": "2024-03-01", "activityTypeId": type_id, "primaryAttributeValue": "x",
            "attributes": [{"apiName": "seats", "value": "many"}]}],
)
check(bad[0]["status"] == "skipped", "a bad value is skipped with a reason")

token = mc.execute(method="get_paging_token", sinceDatetime="2024-03-01T00:00:00Z")
check(isinstance(token, str) and len(token) > 10, "paging token")
seen = mc.execute(method="get_lead_activities", activityTypeIds=[str(type_id)], nextPageToken=token, batchSize=90)
check(len(seen) == total, "paged through every activity (%d of %d)" % (len(seen), total))
dates = [(a["activityDate"], a["id"]) for a in seen]
check(dates == sorted(dates), "activities ascending by date")
check(len({a["marketoGUID"] for a in seen}) == total, "no activity twice")
check(all(a["activityDate"].endswith("Z") and len(a["activityDate"]) == 20 for a in seen), "activityDate format")

pages = 0
for page in mc.execute(method="get_lead_activities_yield", activityTypeIds=[str(type_id)],
                       sinceDatetime="2024-03-01", batchSize=300):
    pages += 1
check(pages >= 4, "yielding pages")

job = mc.execute(
    method="create_activities_export_job",
    filters={"createdAt": {"startAt": "2024-03-01T00:00:00Z", "endAt": "2024-03-31T23:59:59Z"},
             "activityTypeIds": [type_id]},
)
check(job[0]["status"] == "Created", "export job created")
job_id = job[0]["exportId"]
queued = mc.execute(method="enqueue_activities_export_job", job_id=job_id)
check(queued[0]["status"] in ("Queued", "Processing", "Completed"), "export job queued")
status = None
for _ in range(300):
    status = mc.execute(method="get_activities_export_job_status", job_id=job_id)[0]
    if status["status"] in ("Completed", "Failed", "Cancelled"):
        break
    time.sleep(0.1)
check(status["status"] == "Completed", "export completed: %s" % status)
content = mc.execute(method="get_activities_export_job_file", job_id=job_id)
rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
check(len(rows) == total == status["numberOfRecords"], "export has every activity")
by_id = {a["marketoGUID"]: a for a in seen}
for row in rows:
    a = by_id[row["marketoGUID"]]
    check(row["leadId"] == str(a["leadId"]) and row["activityDate"] == a["activityDate"], "row matches activity")
    attrs = json.loads(row["attributes"])
    check(attrs["Seats"] == next(x["value"] for x in a["attributes"] if x["name"] == "Seats"), "attributes column")
jobs = mc.execute(method="get_activities_export_jobs_list")
check(any(j["exportId"] == job_id for j in jobs), "job listed")

second = mc.execute(
    method="create_activities_export_job",
    filters={"createdAt": {"startAt": "2024-03-01", "endAt": "2024-03-02"}},
)
cancelled = mc.execute(method="cancel_activities_export_job", job_id=second[0]["exportId"])
check(cancelled[0]["status"] == "Cancelled", "export job cancelled")

usage = mc.execute(method="get_daily_usage")
check(usage[0]["total"] > 0, "daily usage")

print("marketorestpython: %d passed, 0 failed" % checks)
