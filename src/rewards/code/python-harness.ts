/**
 * The Python preamble that runs model-written code in python.ts. It loads the job, deletes the job
 * file, sets resource limits, then installs a PEP 578 audit hook (which Python code cannot remove)
 * that refuses sockets, subprocesses (and importing their building blocks: _posixsubprocess, ctypes),
 * fork/exec, signals to other processes, tracing, gc and thread-frame introspection, reading /proc and
 * /sys (paths resolved, so ../../proc does not get past it), and any file creation, write, rename,
 * delete or chmod outside the working directory; os.mkfifo / os.mknod are removed. Then it runs the
 * code and the tests. Not a security boundary on its own: python.ts adds an OS network namespace and
 * an unprivileged user, and refuses to run without them unless told to.
 *
 * Assert mode — a verdict the code cannot forge: the code and each test run in a thread started from C
 * (`_thread.start_new_thread` on a chain of C callables: exec, then a lock's release), so no Python
 * frame of the harness lies under them and nothing they can reach holds the lock or the nonce. The main
 * thread, using only names bound before the code ran, waits for the release (a test that raises, exits
 * or hangs never releases it) and writes "<nonce> <i> pass|fail" lines to fd 3, which the parent reads.
 * Printing fake lines, exiting early, or walking frames to find the nonce does not pass a test. A step
 * whose thread ends without the release (an exception, or SystemExit, which ends a thread silently) fails
 * at once: the thread's arguments die with it, and a weak reference to one of them says so.
 * IO mode: the code runs as __main__ with the test input on stdin, once the setup has returned (so no frame
 * under it holds the sandbox's state); the parent compares stdout. An uncaught exception is reported with
 * its message first, then the program's own frames (never the harness's); sys.exit ends the run at once.
 * In both modes os._exit writes out what the program printed before it ends the process.
 */
export const PYTHON_HARNESS = String.raw`
import json, os, sys, resource, _thread, _weakref, functools, operator, time

def _main():
    job_path = sys.argv[1]
    with open(job_path, encoding='utf-8') as f:
        job = json.load(f)
    os.remove(job_path)
    workdir = os.path.realpath(os.getcwd())

    def limit(kind, value):
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass

    limit(resource.RLIMIT_AS, job['memory_bytes'])
    limit(resource.RLIMIT_DATA, job['memory_bytes'])
    limit(resource.RLIMIT_FSIZE, job['file_bytes'])
    limit(resource.RLIMIT_CORE, 0)
    # no RLIMIT_NPROC: the code and its tests run in threads (which it counts); fork and exec are refused by the audit
    # hook and a thread bomb by the address-space limit
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (job['cpu_seconds'], job['cpu_seconds'] + 1))
    except (ValueError, OSError):
        pass

    results = os.fdopen(3, 'w', buffering=1) if job['mode'] == 'assert' else None
    io = results is None
    nonce = job['nonce']
    code = job['code']
    tests = job['tests']
    test_seconds = job['test_seconds']
    code_seconds = job['cpu_seconds']
    del job

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    blocked_prefixes = (
        'socket.', 'subprocess.', 'os.exec', 'os.spawn', 'os.posix_spawn', 'os.fork', 'os.forkpty',
        'os.system', 'os.kill', 'os.killpg', 'os.startfile', 'os.putenv', 'os.unsetenv', 'os.chroot',
        'ctypes.', 'pty.', 'signal.pthread_kill', 'sys.settrace', 'sys.setprofile', 'sys._current_frames',
        'sys._current_exceptions', 'gc.get_objects', 'gc.get_referrers', 'gc.get_referents',
        'urllib.', 'http.', 'ftplib.', 'smtplib.', 'poplib.', 'imaplib.', 'nntplib.', 'telnetlib.',
        'webbrowser.', 'mmap.', 'resource.setrlimit', 'resource.prlimit', 'os.mkfifo', 'os.mknod',
    )
    blocked_imports = {'_posixsubprocess', 'subprocess', '_ctypes', 'ctypes', 'multiprocessing', '_multiprocessing', 'pty', 'mmap'}
    path_events = {
        'os.remove', 'os.rmdir', 'os.rename', 'os.replace', 'os.mkdir', 'os.chmod', 'os.chown',
        'os.truncate', 'os.utime', 'os.link', 'os.symlink', 'os.chflags', 'os.lchflags',
        'os.setxattr', 'os.removexattr', 'shutil.rmtree', 'shutil.copyfile', 'shutil.copymode',
        'shutil.copystat', 'shutil.copytree', 'shutil.move', 'shutil.chown', 'os.chdir',
    }
    read_events = {'os.listdir', 'os.scandir', 'glob.glob', 'os.getxattr', 'os.listxattr'}
    secret_roots = ('/proc', '/sys', '/dev/mem', '/dev/kmem', '/dev/port')
    realpath, join, fsdecode, sep = os.path.realpath, os.path.join, os.fsdecode, os.sep

    def resolved(path):
        try:
            return realpath(join(workdir, fsdecode(path)))
        except Exception:
            return None

    def inside(path):
        if isinstance(path, int):
            return True
        full = resolved(path)
        return full is not None and (full == workdir or full.startswith(workdir + sep))

    def secret(path):
        if isinstance(path, int) or path is None:
            return False
        full = resolved(path)
        return full is None or any(full == r or full.startswith(r + '/') for r in secret_roots)

    def deny(event):
        raise PermissionError('sandbox: ' + event + ' is not allowed')

    def hook(event, args):
        if event == 'sys.addaudithook':
            # CPython drops a new hook quietly when an existing one raises RuntimeError.
            raise RuntimeError('sandbox: adding audit hooks is not allowed')
        if event.startswith(blocked_prefixes):
            deny(event)
        if event == 'import':
            if args[0] in blocked_imports:
                deny('importing ' + args[0])
        elif event == 'open':
            path, mode, flags = args
            if secret(path):
                deny('reading ' + fsdecode(path))
            writing = any(c in mode for c in 'wax+') if isinstance(mode, str) else bool((flags or 0) & write_flags)
            if writing and not inside(path):
                deny('writing outside the sandbox directory')
        elif event in read_events:
            if args and isinstance(args[0], (str, bytes, os.PathLike)) and secret(args[0]):
                deny(event + ' of ' + fsdecode(args[0]))
        elif event in path_events:
            for a in args[:2]:
                if isinstance(a, (str, bytes, os.PathLike)) and not inside(a):
                    deny(event + ' outside the sandbox directory')
        elif not io and event == 'object.__getattr__' and args[1] in ('tb_frame', 'gi_frame', 'cr_frame', 'ag_frame', 'f_back'):
            # frames lead back to whatever ran the code; the code's own frames are reachable through sys._getframe.
            # In io mode nothing under the code is worth reaching, and the traceback of an error needs them.
            deny('reading ' + args[1])

    def removed(*args, **kwargs):
        deny('creating special files')

    import posix
    for name in ('mkfifo', 'mknod'):
        for module in (os, posix):
            if hasattr(module, name):
                setattr(module, name, removed)

    # os._exit leaves Python's buffers unwritten: a program that ends with it keeps what it printed
    real_exit = os._exit

    def flushed_exit(status):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        real_exit(status)

    os._exit = posix._exit = flushed_exit

    if io:
        sys.addaudithook(hook)
        return code, real_exit

    # Everything the main thread uses once the code runs is bound now: the code may replace builtins and
    # module attributes, but not these locals.
    write, exit_now, flush, now = os.write, real_exit, sys.stdout.flush, time.monotonic
    fd = results.fileno()
    start_thread, new_lock = _thread.start_new_thread, _thread.allocate_lock
    call_each = operator.methodcaller('__call__')
    partial, run_all, chain, run_code, count, weak = functools.partial, list, map, exec, len, _weakref.ref
    try:
        code_object = compile(code, 'solution.py', 'exec')
    except BaseException as e:
        write(fd, (nonce + ' code ' + type(e).__name__ + '\n').encode())
        exit_now(0)
    steps = [(code_object, None, code_seconds)]
    for i, test in enumerate(tests):
        try:
            test_object = compile(test, 'test_' + str(i) + '.py', 'exec')
        except BaseException:
            test_object = None
        steps.append((test_object, ((nonce + ' ' + str(i) + ' pass\n').encode(), (nonce + ' ' + str(i) + ' fail\n').encode()), test_seconds))
    namespace = {'__name__': 'solution', '__builtins__': __builtins__}
    # an exception that ends a thread is reported to sys.unraisablehook: it names the code's error (SystemExit ends
    # a thread silently, and the code may replace the hook)
    raised, ended = [], []
    sys.unraisablehook = lambda u: raised.append(u.exc_type.__name__)

    def run_in_thread(code_object, seconds):
        # exec, then release: both called from C, so the thread has no Python frame of ours under the code
        done = new_lock()
        done.acquire()
        step = partial(run_code, code_object, namespace)
        # the thread holds the only reference to the step, through its arguments: when it ends, however it
        # ends, the reference dies and 'ended' grows (after the release, when the step finished)
        gone = weak(step, ended.append)
        chain_of_steps = [step, done.release]
        step = None
        before = count(ended)
        start_thread(run_all, (chain(call_each, chain_of_steps),))
        chain_of_steps = None
        deadline = now() + seconds
        while not done.acquire(True, 0.005):
            if count(ended) != before:
                return done.acquire(False)
            if now() > deadline:
                return False
        return True  # (gone, the weak reference, lives until here)

    sys.addaudithook(hook)
    for code_object, verdict, seconds in steps:
        if verdict is None:
            raised_before = count(raised)
            if not run_in_thread(code_object, seconds):
                error = raised[-1] if count(raised) != raised_before else 'SystemExit' if ended else 'Timeout'
                write(fd, (nonce + ' code ' + error + '\n').encode())
                flush()
                exit_now(0)
        else:
            ok = code_object is not None and run_in_thread(code_object, seconds)
            write(fd, verdict[0] if ok else verdict[1])
    flush()
    exit_now(0)

def _frames(frames):
    # 'File …, line …, in …' and the source line of each frame; more than 3 repeats of one line fold as Python folds them
    out, last, seen = [], None, 0
    for frame in frames + [None]:
        key = None if frame is None else (frame.filename, frame.lineno, frame.name)
        if key == last:
            seen += 1
            if seen > 3:
                continue
        else:
            if seen > 3:
                out.append('  [Previous line repeated %d more times]\n' % (seen - 3))
            last, seen = key, 1
        if frame is not None:
            out.append('  File "%s", line %s, in %s\n' % key)
            if frame.line:
                out.append('    ' + frame.line.strip() + '\n')
    return out

def _report(error, traceback):
    # the exception first, so that a response cut short still says what went wrong, then the program's frames (the
    # first frame is _run's exec), the most recent last; a SyntaxError's pointer at its line comes last
    try:
        head = traceback.format_exception_only(type(error), error)
        first = next((i for i, line in enumerate(head) if not line.startswith(' ')), len(head) - 1)
        tb = error.__traceback__
        frames = list(traceback.extract_tb(tb.tb_next)) if tb is not None and tb.tb_next is not None else []
        stack = 'Traceback (most recent call last):\n' + ''.join(_frames(frames)) if frames else ''
        return ''.join(head[first:]) + stack + ''.join(head[:first])
    except BaseException:
        return type(error).__name__ + '\n'

def _run(code, exit_now):
    # io mode: the program as __main__, with nothing of the setup under it
    import linecache, traceback
    linecache.cache['solution.py'] = (len(code), None, code.splitlines(True), 'solution.py')
    namespace = {'__name__': '__main__', '__builtins__': __builtins__}
    write, stdout, stderr = os.write, sys.stdout, sys.stderr

    def finish(status, report=''):
        for stream in (sys.stdout, sys.stderr, stdout, stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        data = report.encode('utf-8', 'replace')
        try:
            while data:
                data = data[write(2, data):]
        except OSError:
            pass
        exit_now(status)

    try:
        exec(compile(code, 'solution.py', 'exec'), namespace)
    except SystemExit:
        raise
    except BaseException as error:
        finish(1, _report(error, traceback))
    finish(0)

_run(*_main())
`;
