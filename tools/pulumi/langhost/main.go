// Command pulumi-language-python runs Pulumi Python programs, Python plugins and Python policy packs for the
// Pulumi engine.
//
// It exists because Pulumi's own Python language host (module
// github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) has no release tags and the Go module
// proxy these machines reach refuses its pseudo-versions, while the CLI (pkg/v3) and the SDK (sdk/v3) are
// served. It is built from those modules only: the Python toolchain (sdk/v3/python/toolchain), the gRPC
// server helpers (rpcutil) and the policy-pack proxy (sdk/v3) are Pulumi's; what is written here is the
// service itself, kept to what the engine asks of a language host:
//
//   - Run: the program through Pulumi's `pulumi-language-python-exec` (beside this binary), with the stack
//     config in PULUMI_CONFIG, exactly as the engine's protocol describes;
//   - GetRequiredPackages: the installed Python packages that carry a pulumi-plugin.json;
//   - RunPlugin: a Python policy pack (`python -m pulumi.policy`, behind the SDK's policy proxy) or plugin;
//   - InstallDependencies, About, GetProgramDependencies, GetPluginInfo, Handshake and Cancel.
//
// Code generation (GenerateProgram, GenerateProject, GeneratePackage, Pack, Link, Template) is not offered:
// those answer Unimplemented, and the engine says so if a command needs them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// executorName is Pulumi's program runner, a Python script shipped in the sdk/v3 module.
const executorName = "pulumi-language-python-exec"

// exitShownToUser is the executor's exit code after it has already reported the error to the user.
const exitShownToUser = 32

// analyzerKind is the plugin kind of policy packs in RunPlugin requests.
const analyzerKind = "analyzer"

// findPluginsScript prints, as JSON, every installed package that ships a pulumi-plugin.json at its top level.
const findPluginsScript = `
import importlib.metadata, json, pathlib, sys
found = []
for dist in importlib.metadata.distributions():
    top = (dist.read_text("top_level.txt") or "").split()
    for name in top or [dist.metadata["Name"].replace("-", "_")]:
        plugin = pathlib.Path(str(dist.locate_file(name))) / "pulumi-plugin.json"
        if plugin.is_file():
            found.append({"package": dist.metadata["Name"], "version": dist.version,
                          "plugin": json.loads(plugin.read_text())})
json.dump(found, sys.stdout)
`

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	executor := flag.String("use-executor", "", "the program runner to use instead of the one beside this binary")
	// Flags the engine may pass to every plugin; accepted (some are registered by Pulumi's packages already)
	// so that they do not stop the host.
	for name, usage := range map[string]string{"logtostderr": "log to stderr", "logflow": "flow log settings"} {
		if flag.Lookup(name) == nil {
			flag.Bool(name, false, usage+" (not used)")
		}
	}
	if flag.Lookup("v") == nil {
		flag.Int("v", 0, "log verbosity (not used)")
	}
	if flag.Lookup("tracing") == nil {
		flag.String("tracing", "", "a Zipkin-compatible tracing endpoint (not used)")
	}
	flag.Parse()

	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	if *executor == "" {
		self, err := os.Executable()
		if err != nil {
			fail(fmt.Errorf("cannot find this executable's folder: %w", err))
		}
		*executor = filepath.Join(filepath.Dir(self), executorName)
	}
	if _, err := os.Stat(*executor); err != nil {
		fail(fmt.Errorf("missing executor %s: %w", *executor, err))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	host := newHost(*executor)
	if args := flag.Args(); len(args) > 0 {
		if err := host.watchEngine(ctx, args[0], stop); err != nil {
			fail(err)
		}
	}

	cancel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancel)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail(fmt.Errorf("cannot start the language host's gRPC server: %w", err))
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(fmt.Errorf("the language host stopped serving: %w", err))
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

// host is the LanguageRuntime service.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	executor string

	mu            sync.Mutex
	engineAddress string
	watching      bool
	cancelled     context.Context
	cancelAll     context.CancelFunc
}

func newHost(executor string) *host {
	cancelled, cancelAll := context.WithCancel(context.Background())
	return &host{executor: executor, cancelled: cancelled, cancelAll: cancelAll}
}

// watchEngine records the engine's address and stops the host when the engine stops answering health checks.
func (h *host) watchEngine(ctx context.Context, address string, stop context.CancelFunc) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.engineAddress = address
	if h.watching {
		return nil
	}
	h.watching = true
	if err := rpcutil.Healthcheck(ctx, address, 5*time.Minute, stop); err != nil {
		return fmt.Errorf("cannot watch the engine at %s: %w", address, err)
	}
	return nil
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

func (h *host) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if err := h.watchEngine(context.Background(), req.GetEngineAddress(), h.cancelAll); err != nil {
		return nil, err
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

// pythonOptions reads the runtime options of Pulumi.yaml (`virtualenv`, `toolchain`, `typechecker`).
func pythonOptions(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Toolchain:  toolchain.Pip,
	}
	options := info.GetOptions().AsMap()
	if venv, ok := options["virtualenv"].(string); ok && venv != "" {
		opts.Virtualenv = venv
	}
	switch name, _ := options["toolchain"].(string); name {
	case "", "pip":
		opts.Toolchain = toolchain.Pip
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	case "uv":
		opts.Toolchain = toolchain.Uv
	default:
		return opts, fmt.Errorf("runtime option toolchain is %q; use pip, poetry or uv", name)
	}
	switch checker, _ := options["typechecker"].(string); checker {
	case "", "none":
	default:
		return opts, fmt.Errorf("runtime option typechecker %q is not supported by this language host; remove it "+
			"from Pulumi.yaml", checker)
	}
	return opts, nil
}

func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts, err := pythonOptions(info)
	if err != nil {
		return nil, err
	}
	return toolchain.ResolveToolchain(opts)
}

// pluginPackage is one installed Python package that carries a pulumi-plugin.json.
type pluginPackage struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Plugin  struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"plugin"`
}

func (h *host) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", findPluginsScript)
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the installed Pulumi packages failed: %w: %s", err, stderr.String())
	}
	var found []pluginPackage
	if err := json.Unmarshal(out, &found); err != nil {
		return nil, fmt.Errorf("listing the installed Pulumi packages gave unreadable output: %w", err)
	}
	var packages []*pulumirpc.PackageDependency
	for _, pkg := range found {
		if !pkg.Plugin.Resource {
			continue
		}
		name := pkg.Plugin.Name
		if name == "" {
			name = strings.TrimPrefix(strings.ReplaceAll(pkg.Package, "_", "-"), "pulumi-")
		}
		version := pkg.Plugin.Version
		if version == "" {
			version = pkg.Version
		}
		if !strings.HasPrefix(version, "v") {
			version = "v" + version
		}
		packages = append(packages, &pulumirpc.PackageDependency{
			Name: name, Kind: "resource", Version: version, Server: pkg.Plugin.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

// runArguments are the executor's arguments for a RunRequest, in the form pulumi-language-python-exec parses.
func (h *host) runArguments(req *pulumirpc.RunRequest) []string {
	args := []string{h.executor}
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine())
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("organization", req.GetOrganization())
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

// runEnvironment is the process environment plus the stack config the executor reads.
func runEnvironment(base []string, req *pulumirpc.RunRequest) ([]string, error) {
	env := append([]string{}, base...)
	if cfg := req.GetConfig(); cfg != nil {
		encoded, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("cannot encode the stack config: %w", err)
		}
		env = append(env, "PULUMI_CONFIG="+string(encoded))
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	encoded, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the stack's secret keys: %w", err)
	}
	return append(env, "PULUMI_CONFIG_SECRET_KEYS="+string(encoded)), nil
}

// interruptible makes a command's cancellation an interrupt first (the program can finish its step), a kill
// after a grace period.
func interruptible(cmd *exec.Cmd) {
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
}

// linked returns a context cancelled when either the request ends or the engine asks to cancel.
func (h *host) linked(ctx context.Context) (context.Context, context.CancelFunc) {
	linked, cancel := context.WithCancel(ctx)
	stopAfter := context.AfterFunc(h.cancelled, cancel)
	return linked, func() {
		stopAfter()
		cancel()
	}
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		return &pulumirpc.RunResponse{Error: "this language host cannot attach a debugger"}, nil
	}
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := h.linked(ctx)
	defer cancel()
	args := h.runArguments(req)
	cmd, err := tc.Command(runCtx, args...)
	if err != nil {
		return nil, err
	}
	base := cmd.Env
	if base == nil {
		base = os.Environ()
	}
	if cmd.Env, err = runEnvironment(base, req); err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	interruptible(cmd)

	err = cmd.Run()
	// Python does not flush on an abnormal exit; make sure the engine sees everything the program wrote.
	_ = os.Stdout.Sync()
	_ = os.Stderr.Sync()
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python program: %v", err)}, nil
	}
	if exitErr.ExitCode() == exitShownToUser {
		return &pulumirpc.RunResponse{Bail: true}, nil
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d",
		exitErr.ExitCode())}, nil
}

func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	ctx := server.Context()
	dir := req.GetInfo().GetProgramDirectory()
	if err := tc.EnsureVenv(ctx, dir, req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	if err := tc.InstallDependencies(ctx, dir, req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata:   map[string]string{"toolchain": info.ToolchainVersion.String()},
	}, nil
}

func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	packages, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(packages))
	for _, pkg := range packages {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: pkg.Name, Version: pkg.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// RunPlugin runs a Python policy pack (kind "analyzer") or a Python plugin folder with a __main__.py.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	if req.GetAttachDebugger() {
		return status.Error(codes.Unimplemented, "this language host cannot attach a debugger")
	}
	ctx, cancel := h.linked(server.Context())
	defer cancel()
	info := req.GetInfo()
	tc, err := resolveToolchain(info)
	if err != nil {
		return err
	}
	isPolicyPack := req.GetKind() == analyzerKind
	var args []string
	if isPolicyPack {
		args = append(append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...), info.GetProgramDirectory())
	} else {
		if _, err := os.Stat(filepath.Join(info.GetProgramDirectory(), "__main__.py")); err != nil {
			return fmt.Errorf("plugin %s has no __main__.py in %s", req.GetName(), info.GetProgramDirectory())
		}
		args = append([]string{info.GetProgramDirectory()}, req.GetArgs()...)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	interruptible(cmd)
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	if isPolicyPack {
		// Policy packs have always run from their own folder.
		cmd.Dir = info.GetProgramDirectory()
	} else {
		cmd.Dir = req.GetPwd()
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}

	var proxy *sdk.PolicyProxy
	if isPolicyPack {
		// The engine configures the stack on the analyzer before the pack runs: the SDK's proxy answers that,
		// passes the stack's identity and config to the pack's environment, then forwards every call to it.
		if proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout); err != nil {
			return fmt.Errorf("cannot start the policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("the engine sent no stack configuration to the policy pack: %w", err)
		}
		if stack != nil {
			cmd.Env = appendIfSet(cmd.Env, "PULUMI_ORGANIZATION", stack.GetOrganization())
			cmd.Env = appendIfSet(cmd.Env, "PULUMI_PROJECT", stack.GetProject())
			cmd.Env = appendIfSet(cmd.Env, "PULUMI_STACK", stack.GetStack())
			cmd.Env = appendIfSet(cmd.Env, "PULUMI_DRY_RUN", strconv.FormatBool(stack.GetDryRun()))
			if stack.GetConfig() != nil {
				encoded, err := json.Marshal(stack.GetConfig())
				if err != nil {
					return fmt.Errorf("cannot encode the stack config for the policy pack: %w", err)
				}
				cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(encoded))
			}
		}
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		if proxy != nil {
			proxy.Abort(err)
		}
		return fmt.Errorf("could not start plugin %s: %w", req.GetName(), err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd)
	} else {
		err = cmd.Wait()
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
		})
	}
	if err != nil {
		return fmt.Errorf("plugin %s failed: %w", req.GetName(), err)
	}
	return closer.Close()
}

func appendIfSet(env []string, key, value string) []string {
	if value == "" {
		return env
	}
	return append(env, key+"="+value)
}
