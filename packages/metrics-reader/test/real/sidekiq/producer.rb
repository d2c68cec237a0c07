# Enqueues one TruthJob per offset with Sidekiq::Client. Argument: a JSON object
# {"queue", "truthKey", "serviceMs", "startAtMs" (epoch ms), "offsetsMs": [ms after it, ...]};
# a job whose time has passed is pushed at once. Prints "done <count>" when every job is pushed.
require_relative "truth_job"

spec = JSON.parse(ARGV.fetch(0))
queue = spec.fetch("queue")
truth_key = spec.fetch("truthKey")
service_ms = spec.fetch("serviceMs")
offsets = spec.fetch("offsetsMs")

start = spec.fetch("startAtMs")
offsets.each_with_index do |offset, index|
  wait_ms = start + offset - epoch_ms
  sleep(wait_ms / 1000.0) if wait_ms > 0
  enqueued_at = epoch_ms
  Sidekiq::Client.push("class" => TruthJob, "queue" => queue,
    "args" => ["job-#{index}", enqueued_at, truth_key, service_ms])
end
$stdout.puts("done #{offsets.length}")
$stdout.flush
