<?php
// Pushes one job per offset with Laravel's own Queue::push (RedisQueue, phpredis), at each
// offset (ms after start). Each job carries the time taken right before its push, the truth
// key and its run time. Prints "ready" once connected, "done N" at the end.
// With QS_HORIZON_PAYLOAD=1 the payload also carries the fields Laravel Horizon's RedisQueue
// adds (type, tags, silenced, pushedAt as a string of float seconds), through Laravel's own
// payload hook, as Horizon's JobPayload::prepare writes them.
// usage: php producer.php QUEUE TRUTH_KEY SERVICE_MS OFFSET_MS...   (settings: bootstrap.php)
require __DIR__ . '/bootstrap.php';

use Illuminate\Queue\Queue as BaseQueue;

if (getenv('QS_HORIZON_PAYLOAD') === '1') {
    BaseQueue::createPayloadUsing(fn () => [
        'type' => 'job',
        'tags' => [],
        'silenced' => false,
        'pushedAt' => str_replace(',', '.', (string) microtime(true)),
    ]);
}

[, $queueName, $truthKey, $serviceMs] = $argv;
$offsets = array_map('floatval', array_slice($argv, 4));
$connection = qs_queue()->getConnection();
$connection->getConnection()->ping();
echo "ready\n";
$start = microtime(true) * 1000;
foreach ($offsets as $index => $offset) {
    $wait = $start + $offset - microtime(true) * 1000;
    if ($wait > 0) usleep((int) ($wait * 1000));
    $connection->push('QsTruthJob@handle', [
        'id' => $index,
        'enqueuedAt' => qs_now_ms(),
        'truthKey' => $truthKey,
        'serviceMs' => (int) $serviceMs,
    ], $queueName);
}
echo 'done ' . count($offsets) . "\n";
