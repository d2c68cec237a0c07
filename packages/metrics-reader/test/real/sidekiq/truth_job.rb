# Loaded by `sidekiq -r` (the worker) and by producer.rb. Configuration comes from the
# environment the test sets: QSCALE_REDIS_URL and QSCALE_NAMESPACE (redis-namespace, Sidekiq 6).
require "json"
require "redis"
require "sidekiq"

SIDEKIQ_REDIS = {url: ENV.fetch("QSCALE_REDIS_URL"), namespace: ENV.fetch("QSCALE_NAMESPACE")}.freeze

Sidekiq.configure_server do |config|
  config.redis = SIDEKIQ_REDIS
  # The first heartbeat: the process is registered and its fetcher threads are running.
  config.on(:heartbeat) do
    $stdout.puts("ready #{Sidekiq::VERSION}")
    $stdout.flush
  end
end

Sidekiq.configure_client do |config|
  config.redis = SIDEKIQ_REDIS
end

def epoch_ms
  Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
end

# Records its own truth: a plain connection, so the truth key is not namespaced.
class TruthJob
  include Sidekiq::Worker
  sidekiq_options retry: false

  def perform(id, enqueued_at_ms, truth_key, service_ms)
    started_at = epoch_ms
    sleep(service_ms / 1000.0)
    finished_at = epoch_ms
    record = {id: id, enqueuedAt: enqueued_at_ms, startedAt: started_at, finishedAt: finished_at}
    TruthJob.truth_redis.rpush(truth_key, JSON.generate(record))
  end

  def self.truth_redis
    Thread.current[:qscale_truth_redis] ||= Redis.new(url: ENV.fetch("QSCALE_REDIS_URL"))
  end
end
