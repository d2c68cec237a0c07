<?php
// One Laravel 8 queue worker: Illuminate\Queue\Worker::daemon, as `php artisan queue:work
// redis --queue=QUEUE --sleep=SLEEP` runs it. Each job records its truth (enqueuedAt from the
// producer, startedAt and finishedAt from its own clock) with RPUSH to its truth key.
// Prints "ready" once connected; stops on SIGTERM after the job in hand.
// usage: php worker.php QUEUE SLEEP_SECONDS   (settings: bootstrap.php)
require __DIR__ . '/bootstrap.php';

use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Events\Dispatcher;
use Illuminate\Queue\Worker;
use Illuminate\Queue\WorkerOptions;

class QsTruthJob
{
    public function handle($job, array $data): void
    {
        $startedAt = qs_now_ms();
        usleep($data['serviceMs'] * 1000);
        $finishedAt = qs_now_ms();
        $job->delete();
        qs_truth()->rpush($data['truthKey'], json_encode([
            'id' => $data['id'],
            'enqueuedAt' => $data['enqueuedAt'],
            'startedAt' => $startedAt,
            'finishedAt' => $finishedAt,
        ]));
    }
}

/** A client without the queue's key prefix: the truth key is given in full. */
function qs_truth(): Redis
{
    static $redis = null;
    if ($redis === null) {
        $redis = new Redis();
        $redis->connect(qs_env('QS_REDIS_HOST'), (int) qs_env('QS_REDIS_PORT'));
        $redis->select((int) qs_env('QS_REDIS_DB'));
    }
    return $redis;
}

class QsExceptions implements ExceptionHandler
{
    public function report(Throwable $e) { fwrite(STDERR, 'job failed: ' . $e->getMessage() . "\n"); }
    public function shouldReport(Throwable $e) { return true; }
    public function render($request, Throwable $e) { throw $e; }
    public function renderForConsole($output, Throwable $e) { fwrite(STDERR, (string) $e); }
}

[, $queueName, $sleep] = $argv;
$capsule = qs_queue();
$container = $capsule->getContainer();
$capsule->getConnection()->getConnection()->ping();
$worker = new Worker(
    $capsule->getQueueManager(),
    new Dispatcher($container),
    new QsExceptions(),
    fn () => false,
);
echo "ready\n";
$worker->daemon('default', $queueName, new WorkerOptions('default', 0, 128, 60, (float) $sleep, 1));
