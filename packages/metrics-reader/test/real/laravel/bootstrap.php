<?php
// Debian's Laravel 8 queue (Illuminate\Queue over phpredis) set up as an app's config/queue.php
// and config/database.php would: one `redis` queue connection under a key prefix.
// Shared by producer.php and worker.php; reads its settings from the environment:
// QS_REDIS_HOST, QS_REDIS_PORT, QS_REDIS_DB, QS_PREFIX, QS_RETRY_AFTER (seconds).
require '/usr/share/php/Illuminate/Queue/autoload.php';
require '/usr/share/php/Illuminate/Redis/autoload.php';
require '/usr/share/php/Illuminate/Events/autoload.php';

use Illuminate\Queue\Capsule\Manager as Queue;
use Illuminate\Redis\RedisManager;

function qs_env(string $name): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        fwrite(STDERR, "missing environment variable $name\n");
        exit(2);
    }
    return $value;
}

function qs_queue(): Queue
{
    $queue = new Queue();
    $container = $queue->getContainer();
    $container->instance('redis', new RedisManager($container, 'phpredis', [
        'options' => ['prefix' => qs_env('QS_PREFIX')],
        'default' => [
            'host' => qs_env('QS_REDIS_HOST'),
            'port' => (int) qs_env('QS_REDIS_PORT'),
            'database' => (int) qs_env('QS_REDIS_DB'),
        ],
    ]));
    $queue->addConnection([
        'driver' => 'redis',
        'connection' => 'default',
        'queue' => 'default',
        'retry_after' => (int) qs_env('QS_RETRY_AFTER'),
        'block_for' => null,
    ]);
    return $queue;
}

function qs_now_ms(): float
{
    return round(microtime(true) * 1000, 3);
}
